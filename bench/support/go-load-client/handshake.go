package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strings"
)

// The WebSocket upgrade: the request a subscriber sends, and the checks of the answer the Node
// client makes too (101, the right Sec-WebSocket-Accept, the offered subprotocol chosen).

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var headerEnd = []byte("\r\n\r\n")

// upgradeRequest returns the request's bytes and the Sec-WebSocket-Accept the server must answer.
func upgradeRequest(t *target, protocol string) ([]byte, string) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	key := base64.StdEncoding.EncodeToString(nonce)
	sum := sha1.Sum([]byte(key + acceptGUID))
	var request strings.Builder
	fmt.Fprintf(&request, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", t.requestURI, t.host)
	fmt.Fprintf(&request, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if protocol != "" {
		fmt.Fprintf(&request, "Sec-WebSocket-Protocol: %s\r\n", protocol)
	}
	request.WriteString("\r\n")
	return []byte(request.String()), base64.StdEncoding.EncodeToString(sum[:])
}

// checkUpgrade reads the response's head (everything before the blank line) and returns an error
// unless it accepts the upgrade as asked.
func checkUpgrade(head []byte, accept, protocol string) error {
	lines := strings.Split(string(head), "\r\n")
	if !strings.HasPrefix(lines[0], "HTTP/1.1 101 ") {
		return fmt.Errorf("refused: %s", lines[0])
	}
	var gotAccept, gotProtocol string
	for _, line := range lines[1:] {
		name, value, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sec-websocket-accept":
			gotAccept = strings.TrimSpace(value)
		case "sec-websocket-protocol":
			gotProtocol = strings.TrimSpace(value)
		}
	}
	if gotAccept != accept {
		return fmt.Errorf("answered a wrong Sec-WebSocket-Accept")
	}
	if gotProtocol != protocol {
		return fmt.Errorf("chose subprotocol %q, offered %q", gotProtocol, protocol)
	}
	return nil
}

// splitHead returns the response head and what followed it (frames may come in the same read),
// or ok=false while the head is incomplete.
func splitHead(response []byte) (head, rest []byte, ok bool) {
	end := bytes.Index(response, headerEnd)
	if end < 0 {
		return nil, nil, false
	}
	return response[:end], response[end+len(headerEnd):], true
}
