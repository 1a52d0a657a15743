package main

import (
	"encoding/binary"
	"fmt"
)

// WebSocket framing (RFC 6455), the little of it a load client needs: the server's frames are cut
// in place in the read buffer, what the client sends is masked. Fragmented or masked server frames
// are refused (the benchmark's servers never send them: a change that starts sending them fails
// the run instead of skewing it), as the Node client (bench/support/lean-ws-client.ts) does.

const (
	opContinuation = 0
	opText         = 1
	opBinary       = 2
	opClose        = 8
	opPing         = 9
	opPong         = 10
)

// frameHandler receives the frames cut from a read; payloads are valid only during the call.
type frameHandler interface {
	onMessage(payload []byte)
	onPing(payload []byte)
	onClose(payload []byte)
}

// cutFrames hands every complete frame of data to h and returns how many bytes it consumed (the
// rest is the start of a frame that continues in the next read). stop is polled after each frame:
// a socket that closed or failed reads no further.
func cutFrames(data []byte, h frameHandler, stop func() bool) (int, error) {
	at := 0
	for len(data)-at >= 2 {
		first, second := data[at], data[at+1]
		length := int(second & 0x7f)
		header := 2
		switch length {
		case 126:
			if len(data)-at < 4 {
				return at, nil
			}
			length = int(binary.BigEndian.Uint16(data[at+2:]))
			header = 4
		case 127:
			if len(data)-at < 10 {
				return at, nil
			}
			length = int(binary.BigEndian.Uint64(data[at+2:]))
			header = 10
		}
		if len(data)-at < header+length {
			return at, nil
		}
		if second&0x80 != 0 {
			return at, fmt.Errorf("the server sent a masked frame")
		}
		payload := data[at+header : at+header+length]
		at += header + length
		opcode, fin := first&0x0f, first&0x80 != 0
		switch {
		case (opcode == opText || opcode == opBinary) && fin:
			h.onMessage(payload)
		case opcode == opPing:
			h.onPing(payload)
		case opcode == opClose:
			h.onClose(payload)
		case opcode == opPong:
		default:
			return at, fmt.Errorf("unexpected frame: opcode %d, final %v", opcode, fin)
		}
		if stop() {
			return at, nil
		}
	}
	return at, nil
}

// maskState is a xorshift generator for frame masks: a mask only has to vary, not be secret.
var maskState uint32 = 0x9e3779b9

// maskedFrame builds one client frame (final, masked).
func maskedFrame(opcode byte, payload []byte) []byte {
	length := len(payload)
	header := 2
	if length >= 0x10000 {
		header = 10
	} else if length >= 126 {
		header = 4
	}
	frame := make([]byte, header+4+length)
	frame[0] = 0x80 | opcode
	switch header {
	case 2:
		frame[1] = 0x80 | byte(length)
	case 4:
		frame[1] = 0x80 | 126
		binary.BigEndian.PutUint16(frame[2:], uint16(length))
	default:
		frame[1] = 0x80 | 127
		binary.BigEndian.PutUint64(frame[2:], uint64(length))
	}
	maskState ^= maskState << 13
	maskState ^= maskState >> 17
	maskState ^= maskState << 5
	mask := frame[header : header+4]
	binary.BigEndian.PutUint32(mask, maskState)
	for index, value := range payload {
		frame[header+4+index] = value ^ mask[index&3]
	}
	return frame
}
