package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// One subscriber's socket: a non-blocking TCP connection driven by the client's epoll loop through
// connect, the upgrade and its protocol's handshake ("settled": subscribed, from then on every
// failure fails the run), then deliveries until the bench closes it.

type connState int

const (
	connecting connState = iota
	upgrading
	open
)

type conn struct {
	client  *client
	fd      int
	index   int // the subscriber's position in the bench's specs
	attempt int
	spec    *spec
	target  *target
	sampled bool

	state   connState
	accept  string // the Sec-WebSocket-Accept the server must answer
	head    []byte // the upgrade response so far
	pending []byte // the start of a frame that continues in the next read
	frames  int    // benchmark frames received (live after the first)
	// receivedAt is when the chunk being handled was read (CLOCK_MONOTONIC ms).
	receivedAt float64

	settled bool
	closing bool // this side sent a close frame
	done    bool
}

// dial starts a non-blocking connect; the loop calls onWritable once it completes.
func (cl *client) dial(index, attempt int) error {
	s := &cl.specs[index]
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		syscall.Close(fd)
		return fmt.Errorf("TCP_NODELAY: %w", err)
	}
	t := cl.targets[s.URL]
	if err := syscall.Connect(fd, &t.addr); err != nil && !errors.Is(err, syscall.EINPROGRESS) {
		syscall.Close(fd)
		return fmt.Errorf("connect %s: %w", t.host, err)
	}
	c := &conn{client: cl, fd: fd, index: index, attempt: attempt, spec: s, target: t, sampled: index%cl.sampleEvery == 0}
	cl.add(c, syscall.EPOLLOUT)
	return nil
}

// onWritable: the connect finished (or failed); send the upgrade request.
func (c *conn) onWritable() {
	code, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err == nil && code != 0 {
		err = syscall.Errno(code)
	}
	if err != nil {
		c.fail(fmt.Errorf("connect %s: %w", c.target.host, err))
		return
	}
	request, accept := upgradeRequest(c.target, c.spec.subprotocol())
	c.accept = accept
	c.state = upgrading
	c.client.watch(c, syscall.EPOLLIN)
	if err := c.write(request); err != nil {
		c.fail(err)
	}
}

// onReadable reads once (the loop's epoll is level-triggered: what is left comes back).
func (c *conn) onReadable(buffer []byte) {
	n, err := syscall.Read(c.fd, buffer)
	c.client.stats.reads++
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
		return
	}
	// Stamped before any frame of the chunk is handled, as the Node client does.
	c.receivedAt = nowMs()
	if err != nil {
		c.fail(fmt.Errorf("subscriber socket: %w", err))
		return
	}
	if n == 0 {
		c.lost("subscriber socket closed: 1006 connection lost")
		return
	}
	data := buffer[:n]
	if c.state == upgrading {
		c.head = append(c.head, data...)
		head, rest, complete := splitHead(c.head)
		if !complete {
			return
		}
		c.head = nil
		if err := checkUpgrade(head, c.accept, c.spec.subprotocol()); err != nil {
			c.fail(fmt.Errorf("WebSocket upgrade of %s %w", c.spec.URL, err))
			return
		}
		c.state = open
		if err := c.onUpgraded(); err != nil {
			c.fail(err)
			return
		}
		data = rest
	}
	c.onData(data)
}

func (c *conn) onData(data []byte) {
	if len(c.pending) > 0 {
		// A frame split across reads: rare (reads take up to the whole buffer, frames are small).
		data = append(c.pending, data...)
		c.pending = nil
	}
	consumed, err := cutFrames(data, c, func() bool { return c.done })
	if err != nil {
		c.fail(err)
		return
	}
	if !c.done && consumed < len(data) {
		// Copied: data is the read buffer every socket shares.
		c.pending = append([]byte(nil), data[consumed:]...)
	}
}

// onMessage: a delivery, a probe, or a protocol message.
func (c *conn) onMessage(frame []byte) {
	pad, ok := isBenchPayload(frame)
	if !ok {
		if err := c.onProtocolMessage(frame); err != nil {
			c.fail(err)
		}
		return
	}
	c.frames++
	if c.frames == 1 {
		c.client.live++
	}
	c.client.dirty = true
	if bytes.HasPrefix(frame[pad+len(padMark):], probeWord) {
		c.client.probes++
		return
	}
	c.client.delivered++
	if c.sampled && c.client.sampling {
		sentAt, digits, err := sentAtOf(frame)
		if err != nil {
			c.fail(err)
			return
		}
		c.client.sample(c.receivedAt-sentAt, digits)
	}
}

func (c *conn) onPing(payload []byte) {
	if err := c.write(maskedFrame(opPong, payload)); err != nil {
		c.fail(err)
	}
}

func (c *conn) onClose(payload []byte) {
	code := 1005
	if len(payload) >= 2 {
		code = int(binary.BigEndian.Uint16(payload))
	}
	if !c.closing {
		c.closing = true
		_ = c.write(maskedFrame(opClose, payload[:min(2, len(payload))]))
	}
	c.lost(fmt.Sprintf("subscriber socket closed: %d %s", code, payload[min(2, len(payload)):]))
}

func (c *conn) sendText(text []byte) error {
	return c.write(maskedFrame(opText, text))
}

// write sends a whole client frame or fails: a subscriber sends a few hundred bytes in all, so a
// full send buffer means something is badly wrong, not that it should queue.
func (c *conn) write(data []byte) error {
	n, err := syscall.Write(c.fd, data)
	if err != nil {
		return fmt.Errorf("subscriber send: %w", err)
	}
	if n < len(data) {
		return fmt.Errorf("subscriber send: %d of %d bytes written", n, len(data))
	}
	return nil
}

// settle: subscribed; from now on its deliveries count and a failure fails the run.
func (c *conn) settle() {
	if !c.settled {
		c.settled = true
		c.client.onSettled(c)
	}
}

// requestClose sends a close frame; the server's answer (or its TCP close) ends the socket.
func (c *conn) requestClose() {
	if c.done || c.closing {
		return
	}
	c.closing = true
	payload := []byte{0x03, 0xe8} // 1000
	if err := c.write(maskedFrame(opClose, payload)); err != nil {
		c.finish()
	}
}

// lost: the connection ended. Normal when this side asked for it; otherwise a failure.
func (c *conn) lost(reason string) {
	if c.closing && c.client.closing {
		c.finish()
		return
	}
	c.fail(errors.New(reason))
}

// fail: before the subscriber settled, its attempt failed (the client retries it); after, the run
// has lost a subscriber and fails.
func (c *conn) fail(err error) {
	if c.done {
		return
	}
	c.finish()
	if c.settled {
		c.client.runFailed(err)
	} else {
		c.client.attemptFailed(c, err)
	}
}

func (c *conn) finish() {
	if c.done {
		return
	}
	c.done = true
	c.client.remove(c)
	syscall.Close(c.fd)
}
