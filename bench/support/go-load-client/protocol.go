package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// What a subscriber says once its socket is open, per SubscriberSpec kind of
// bench/support/ws-subscribers.ts: graphql-ws (connection_init with connectionParams, subscribe on
// connection_ack, ping/pong), the legacy topic socket (subscribe on connection_established), or a
// bare socket (the raw ws ceiling: nothing). Any other protocol message (graphql-ws error,
// complete, a `next` without a benchmark payload) fails the subscriber.

// spec is one SubscriberSpec as the bench sends it (JSON).
type spec struct {
	Kind             string          `json:"kind"`
	URL              string          `json:"url"`
	Query            string          `json:"query"`
	Variables        json.RawMessage `json:"variables"`
	ConnectionParams json.RawMessage `json:"connectionParams"`
	Topic            string          `json:"topic"`
}

// subprotocol is the Sec-WebSocket-Protocol a kind offers.
func (s *spec) subprotocol() string {
	if s.Kind == "graphql-ws" {
		return "graphql-transport-ws"
	}
	return ""
}

func orEmptyObject(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

func mustJSON(value any) []byte {
	text, err := json.Marshal(value)
	if err != nil {
		panic(err)
	}
	return text
}

// onUpgraded is called when the server accepted the upgrade.
func (c *conn) onUpgraded() error {
	switch c.spec.Kind {
	case "graphql-ws":
		return c.sendText(mustJSON(map[string]any{"type": "connection_init", "payload": orEmptyObject(c.spec.ConnectionParams)}))
	case "raw":
		c.settle()
	case "legacy-ws":
		// The server speaks first (connection_established).
	}
	return nil
}

// onProtocolMessage handles one text message that is not a benchmark payload.
func (c *conn) onProtocolMessage(frame []byte) error {
	var message struct {
		Type    string `json:"type"`
		Success bool   `json:"success"`
	}
	if err := json.Unmarshal(frame, &message); err != nil {
		return fmt.Errorf("subscriber got %s", clip(frame))
	}
	switch {
	case c.spec.Kind == "graphql-ws" && message.Type == "connection_ack" && !c.settled:
		subscribe := map[string]any{
			"id":   "1",
			"type": "subscribe",
			"payload": map[string]any{
				"query":     c.spec.Query,
				"variables": orEmptyObject(c.spec.Variables),
			},
		}
		if err := c.sendText(mustJSON(subscribe)); err != nil {
			return err
		}
		c.settle()
	case c.spec.Kind == "graphql-ws" && message.Type == "ping":
		return c.sendText([]byte(`{"type":"pong"}`))
	case c.spec.Kind == "legacy-ws" && message.Type == "connection_established":
		return c.sendText(mustJSON(map[string]any{"action": "subscribe", "data": map[string]any{"topics": []string{c.spec.Topic}}}))
	case c.spec.Kind == "legacy-ws" && message.Type == "subscription_confirmed" && message.Success:
		c.settle()
	case message.Type == "pong":
	default:
		return fmt.Errorf("%s subscriber got %s", c.spec.Kind, clip(frame))
	}
	return nil
}

func clip(frame []byte) string {
	if len(frame) > 300 {
		return string(frame[:300])
	}
	return string(frame)
}

// The marks every benchmark payload carries (benchEvents in bench/support/bench-targets.ts): a
// pad, which starts with "probe" in a readiness probe, and the publish time.
var (
	padMark    = []byte(`"pad":"`)
	probeWord  = []byte("probe")
	sentAtMark = []byte(`"sentAt":`)
)

// isBenchPayload tells a delivery (or probe) from a protocol message with one bounded scan.
func isBenchPayload(frame []byte) (pad int, ok bool) {
	pad = bytes.Index(frame, padMark)
	return pad, pad >= 0
}

// sentAtOf is the publish time a benchmark payload carries (CLOCK_MONOTONIC ms, see clock.go),
// and its digits as they are in the frame: the report echoes those, so the bench can group a
// message's samples by the exact number it published (a reformatted float might not round-trip).
func sentAtOf(frame []byte) (float64, []byte, error) {
	at := bytes.Index(frame, sentAtMark)
	if at < 0 {
		return 0, nil, fmt.Errorf("a delivery without sentAt: %s", clip(frame))
	}
	number := frame[at+len(sentAtMark):]
	end := 0
	for end < len(number) && (number[end] >= '0' && number[end] <= '9' || number[end] == '.' || number[end] == '-' || number[end] == 'e' || number[end] == 'E' || number[end] == '+') {
		end++
	}
	value, err := strconv.ParseFloat(string(number[:end]), 64)
	return value, number[:end], err
}
