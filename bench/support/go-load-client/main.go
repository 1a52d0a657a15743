// The fan-out benchmark's load client in Go (bench/support/go-load-client.ts starts it): one
// thread, one epoll loop over every subscriber socket, one read per ready socket, frames cut in
// place in one shared buffer, a delivery counted by a byte scan. The Node client
// (bench/support/lean-ws-client.ts) spends 10–22 µs per read in Node's event loop and libuv: on one
// core it needs 10–14 ms to read one message from 1,000 sockets, as much as the server needs to send
// it, so the latency it measured was its own as much as the server's.
//
// Control (bench/fanout.ts ⇄ this process), one line per message:
//
//	stdin   {"op":"open","specs":[SubscriberSpec…],"sampleEvery":10,"concurrency":50}
//	        {"op":"sampling","on":true|false}
//	        {"op":"close"}
//	stdout  opened N | open-failed MESSAGE            (answer to open)
//	        s MS@SENTAT …   latency samples (ms, and the sentAt of the message as published),
//	                        then  r DELIVERED LIVE PROBES   (cumulative counts)
//	        fail MESSAGE                               (a subscriber was lost: the run fails)
//	        closed STATS                               (answer to close, with counts of its syscalls; then it exits)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Reports are written when the loop has caught up (no socket ready), but at most every
// minReportMs: each one wakes the bench process, on this same core, to read it. While sockets stay
// ready, every maxReportMs.
const (
	minReportMs = 1
	maxReportMs = 5
)

func writeOut(data []byte) {
	if _, err := os.Stdout.Write(data); err != nil {
		os.Exit(1) // the bench is gone
	}
}

type command struct {
	Op          string `json:"op"`
	Specs       []spec `json:"specs"`
	SampleEvery int    `json:"sampleEvery"`
	Concurrency int    `json:"concurrency"`
	On          bool   `json:"on"`
}

func main() {
	epoll, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		panic(err)
	}
	cl := &client{epoll: epoll, targets: map[string]*target{}}
	if err := syscall.SetNonblock(0, true); err != nil {
		panic(err)
	}
	stdin := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 0}
	if err := syscall.EpollCtl(epoll, syscall.EPOLL_CTL_ADD, 0, &stdin); err != nil {
		panic(err)
	}
	run(cl)
}

// run is the loop: commands first in every batch of events (a `sampling` line the bench wrote
// before a publish is seen before that publish's deliveries), then the sockets; counts are
// reported when no socket is ready any more (the loop has caught up), or every reportEveryMs.
func run(cl *client) {
	events := make([]syscall.EpollEvent, 512)
	buffer := make([]byte, 256*1024)
	var commands []byte
	for {
		timeout := -1
		if cl.dirty {
			timeout = 0
			if nowMs()-cl.lastReport < minReportMs {
				timeout = minReportMs
			}
		} else if cl.closing {
			timeout = 100
		}
		n, err := syscall.EpollWait(cl.epoll, events, timeout)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			panic(err)
		}
		cl.stats.waits++
		if n == 0 && cl.dirty && nowMs()-cl.lastReport >= minReportMs {
			cl.report()
		}
		for _, event := range events[:n] {
			if event.Fd == 0 {
				commands = readCommands(cl, commands, buffer)
			}
		}
		for _, event := range events[:n] {
			if event.Fd == 0 || int(event.Fd) >= len(cl.conns) {
				continue
			}
			c := cl.conns[event.Fd]
			if c == nil {
				continue
			}
			if c.state == connecting {
				c.onWritable()
			} else {
				c.onReadable(buffer)
			}
		}
		if cl.dirty && nowMs()-cl.lastReport >= maxReportMs {
			cl.report()
		}
		if cl.closing && (cl.alive == 0 || nowMs() > cl.closeDeadline) {
			cl.report()
			var usage syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
			cpuMs := float64(usage.Utime.Nano()+usage.Stime.Nano()) / 1e6
			cl.reply(fmt.Sprintf("closed cpu_ms=%.0f epoll_waits=%d reads=%d reports=%d deliveries=%d", cpuMs, cl.stats.waits, cl.stats.reads, cl.stats.reports, cl.delivered))
			return
		}
	}
}

// readCommands reads what stdin has and runs every complete line; it returns the incomplete rest.
func readCommands(cl *client, pending, buffer []byte) []byte {
	n, err := syscall.Read(0, buffer)
	if errors.Is(err, syscall.EAGAIN) {
		return pending
	}
	if err != nil || n == 0 {
		os.Exit(0) // the bench closed our stdin: it is gone
	}
	pending = append(pending, buffer[:n]...)
	for {
		end := bytes.IndexByte(pending, '\n')
		if end < 0 {
			return pending
		}
		line := pending[:end]
		pending = pending[end+1:]
		if err := runCommand(cl, line); err != nil {
			cl.reply("open-failed " + oneLine(err.Error()))
		}
	}
}

func runCommand(cl *client, line []byte) error {
	var cmd command
	if err := json.Unmarshal(line, &cmd); err != nil {
		return fmt.Errorf("bad command: %w", err)
	}
	switch cmd.Op {
	case "open":
		return cl.open(cmd.Specs, cmd.SampleEvery, cmd.Concurrency)
	case "sampling":
		cl.sampling = cmd.On
	case "close":
		cl.closeAll()
	default:
		return fmt.Errorf("unknown command %q", cmd.Op)
	}
	return nil
}
