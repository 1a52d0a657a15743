package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// The client's state: its subscribers (opened `concurrency` handshakes at a time, each retried up
// to maxAttempts times before it settles, as openSubscribers in ws-subscribers.ts does), the
// counts the bench's DeliveryTracker mirrors, and the latency samples not yet reported.

const maxAttempts = 3

// target is where a spec's URL points, resolved once.
type target struct {
	addr       syscall.SockaddrInet4
	host       string // the Host header
	requestURI string // path?query
}

type client struct {
	epoll   int
	conns   []*conn // by fd
	targets map[string]*target

	specs       []spec
	sampleEvery int
	concurrency int
	next        int // the next spec to open
	settled     int

	// The counts the bench mirrors: deliveries (every subscriber's), subscribers live (that have
	// had a benchmark frame), readiness probes.
	delivered, live, probes int64
	sampling                bool
	samples                 []byte // " 12.345@81234.567 13.002@81234.567 …" since the last report
	dirty                   bool
	lastReport              float64

	// What the loop did, reported at close: how many wake-ups and reads the deliveries took.
	stats struct{ waits, reads, reports int64 }

	closing       bool
	closeDeadline float64
	alive         int // sockets not yet done
	failed        bool
}

func (cl *client) add(c *conn, events uint32) {
	for len(cl.conns) <= c.fd {
		cl.conns = append(cl.conns, nil)
	}
	cl.conns[c.fd] = c
	cl.alive++
	event := syscall.EpollEvent{Events: events, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(cl.epoll, syscall.EPOLL_CTL_ADD, c.fd, &event); err != nil {
		panic(fmt.Sprintf("epoll_ctl add: %v", err))
	}
}

func (cl *client) watch(c *conn, events uint32) {
	event := syscall.EpollEvent{Events: events, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(cl.epoll, syscall.EPOLL_CTL_MOD, c.fd, &event); err != nil {
		panic(fmt.Sprintf("epoll_ctl mod: %v", err))
	}
}

// remove forgets a socket that is about to be closed (closing an fd removes it from epoll).
func (cl *client) remove(c *conn) {
	cl.conns[c.fd] = nil
	cl.alive--
}

// resolve parses a ws:// URL once per distinct URL (IPv4: the benchmark's servers listen on 127.0.0.1).
func (cl *client) resolve(raw string) error {
	if cl.targets[raw] != nil {
		return nil
	}
	parsed, err := url.Parse(raw)
	if err != nil || parsed.Scheme != "ws" {
		return fmt.Errorf("only ws:// URLs (%s)", raw)
	}
	port, err := strconv.Atoi(parsed.Port())
	if err != nil {
		port = 80
	}
	ip, err := net.ResolveIPAddr("ip4", parsed.Hostname())
	if err != nil {
		return fmt.Errorf("resolve %s: %w", parsed.Hostname(), err)
	}
	t := &target{host: parsed.Host, requestURI: parsed.RequestURI()}
	t.addr.Port = port
	copy(t.addr.Addr[:], ip.IP.To4())
	cl.targets[raw] = t
	return nil
}

// open starts opening every spec; "opened" is reported once all have settled.
func (cl *client) open(specs []spec, sampleEvery, concurrency int) error {
	for _, s := range specs {
		if s.Kind != "graphql-ws" && s.Kind != "raw" && s.Kind != "legacy-ws" {
			return fmt.Errorf("the Go load client speaks graphql-ws, raw and legacy-ws, not %s", s.Kind)
		}
		if err := cl.resolve(s.URL); err != nil {
			return err
		}
	}
	cl.specs, cl.sampleEvery, cl.concurrency = specs, max(1, sampleEvery), max(1, concurrency)
	if len(specs) == 0 {
		cl.reply("opened 0")
	}
	for cl.next < len(cl.specs) && cl.next < cl.concurrency {
		cl.next++
		cl.start(cl.next-1, 1)
	}
	return nil
}

func (cl *client) start(index, attempt int) {
	if err := cl.dial(index, attempt); err != nil {
		cl.retry(index, attempt, err)
	}
}

func (cl *client) retry(index, attempt int, err error) {
	if cl.closing || cl.failed {
		return
	}
	if attempt >= maxAttempts {
		cl.failed = true
		cl.reply("open-failed " + oneLine(err.Error()))
		return
	}
	cl.start(index, attempt+1)
}

func (cl *client) attemptFailed(c *conn, err error) {
	cl.retry(c.index, c.attempt, err)
}

func (cl *client) onSettled(c *conn) {
	cl.settled++
	if cl.next < len(cl.specs) {
		cl.next++
		cl.start(cl.next-1, 1)
	}
	if cl.settled == len(cl.specs) {
		cl.reply("opened " + strconv.Itoa(cl.settled))
	}
}

// runFailed: a subscriber was lost after it settled (or sent what it must not): the bench's
// tracker fails, and its waiters with it.
func (cl *client) runFailed(err error) {
	if cl.closing {
		return
	}
	cl.report()
	cl.reply("fail " + oneLine(err.Error()))
}

// sample records one sampled delivery: its latency and the publish time it carried (`sentAt`'s
// digits as published), which tells the bench which message it belongs to.
func (cl *client) sample(latencyMs float64, sentAt []byte) {
	cl.samples = append(cl.samples, ' ')
	cl.samples = strconv.AppendFloat(cl.samples, latencyMs, 'f', 3, 64)
	cl.samples = append(cl.samples, '@')
	cl.samples = append(cl.samples, sentAt...)
}

// report writes the samples since the last report and the counts: "s 12.345@81234.567 …" then
// "r delivered live probes". Samples come first, so the bench has every sample of the deliveries
// a count includes when its waiter for that count wakes.
func (cl *client) report() {
	line := make([]byte, 0, len(cl.samples)+64)
	if len(cl.samples) > 0 {
		line = append(line, 's')
		line = append(line, cl.samples...)
		line = append(line, '\n')
		cl.samples = cl.samples[:0]
	}
	line = append(line, 'r', ' ')
	line = strconv.AppendInt(line, cl.delivered, 10)
	line = append(line, ' ')
	line = strconv.AppendInt(line, cl.live, 10)
	line = append(line, ' ')
	line = strconv.AppendInt(line, cl.probes, 10)
	line = append(line, '\n')
	writeOut(line)
	cl.stats.reports++
	cl.dirty = false
	cl.lastReport = nowMs()
}

func (cl *client) reply(line string) {
	writeOut([]byte(line + "\n"))
}

// closeAll sends every settled socket a close frame and drops the handshakes in flight; the loop
// ends when every socket is gone or 5 s have passed.
func (cl *client) closeAll() {
	cl.closing = true
	cl.closeDeadline = nowMs() + 5_000
	for _, c := range cl.conns {
		if c == nil {
			continue
		}
		if c.settled {
			c.requestClose()
		} else {
			c.finish()
		}
	}
}

func oneLine(text string) string {
	return strings.ReplaceAll(text, "\n", " ")
}
