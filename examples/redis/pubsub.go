package main

import (
	"strconv"
	"sync"

	"github.com/sycamore-go/sycamore/loop"
	"github.com/sycamore-go/sycamore/transport"
)

// defaultPubsubLimit is Redis's hard output limit for pubsub clients
// (client-output-buffer-limit pubsub 32mb 8mb 60).
const defaultPubsubLimit = 32 << 20

// hub is PUBLISH/SUBSCRIBE across the loops. Each loop keeps its own
// subscribers (a local, touched only on that loop), so delivering a message
// takes no lock; the hub keeps only how many subscribers each channel and
// pattern has on each loop, which tells PUBLISH where to send and what to
// answer. A publisher's messages are gathered per target loop while its OnData
// runs and handed over when it returns: written at once to the subscribers on
// the publisher's own loop, and in one task to each other loop with
// subscribers. A pipeline of 16 PUBLISHes to subscribers on two loops costs one
// task, not 16 per subscriber.
//
// Messages from one publisher reach every subscriber in the order they were
// published. Unlike Redis, which runs every command on one thread, the loops
// run side by side: messages from publishers on different loops may interleave
// differently for subscribers on different loops, and PUBLISH counts the
// subscribers when it runs, so one that unsubscribes on its own loop before the
// message arrives there is counted and does not get it.
type hub struct {
	limit int // the output limit of a conn while it has subscriptions; 0: none

	mu       sync.RWMutex
	channels map[string][]int32 // subscribers per local's index
	patterns map[string][]int32
	locals   map[*loop.Loop]*local
	byIndex  []*local
}

func newHub(limit int) *hub {
	return &hub{limit: limit, channels: map[string][]int32{}, patterns: map[string][]int32{},
		locals: map[*loop.Loop]*local{}}
}

// local is one loop's part of the hub. Loop goroutine only, but for its index.
type local struct {
	l        *loop.Loop
	index    int
	channels map[string][]*subscriber
	patterns map[string][]*subscriber
	out      []*batch // per target local: what was published here for it
	targets  []bool   // scratch for publish
	frame    []byte   // scratch for a message's frame
}

// batch is the messages published on one loop for another, in order.
type batch struct {
	data []byte // every message's channel and payload, back to back
	msgs []message
}

// message is a channel and a payload, as offsets in their batch's data.
type message struct{ chEnd, end int }

// subscriber is a conn with subscriptions, in its Context from its first
// SUBSCRIBE or PSUBSCRIBE on.
type subscriber struct {
	c        *transport.Conn
	partial  *partial // the conn's parse state (see partial.go)
	channels map[string]struct{}
	patterns map[string]struct{}
	limit    int // the conn's own output limit, given back when it has no subscription left
}

func (s *subscriber) count() int { return len(s.channels) + len(s.patterns) }

// subscribed reports whether c has subscriptions, which limits what it may do.
func subscribed(c *transport.Conn) bool {
	s, ok := c.Context().(*subscriber)
	return ok && s.count() > 0
}

// localOf returns the local of loop l, made on first use.
func (h *hub) localOf(l *loop.Loop) *local {
	h.mu.RLock()
	loc := h.locals[l]
	h.mu.RUnlock()
	if loc != nil {
		return loc
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if loc = h.locals[l]; loc == nil {
		loc = &local{l: l, index: len(h.byIndex), channels: map[string][]*subscriber{}, patterns: map[string][]*subscriber{}}
		h.locals[l] = loc
		h.byIndex = append(h.byIndex, loc)
	}
	return loc
}

// subscriberOf returns c's subscriber, made and put in its Context (with the
// conn's partial) on first use.
func subscriberOf(c *transport.Conn) *subscriber {
	switch v := c.Context().(type) {
	case *subscriber:
		return v
	case *partial:
		s := &subscriber{c: c, partial: v}
		c.SetContext(s)
		return s
	}
	s := &subscriber{c: c}
	c.SetContext(s)
	return s
}

// kind tells the channel commands from the pattern commands.
type kind struct {
	subscribe, unsubscribe string // the reply's first element
	pattern                bool
}

var (
	channelKind = kind{"subscribe", "unsubscribe", false}
	patternKind = kind{"psubscribe", "punsubscribe", true}
)

// sets returns the subscriber's names and the local's lists for k.
func sets(k kind, s *subscriber, loc *local) (*map[string]struct{}, map[string][]*subscriber) {
	if k.pattern {
		return &s.patterns, loc.patterns
	}
	return &s.channels, loc.channels
}

// subscribe is SUBSCRIBE or PSUBSCRIBE: one reply per name, with the conn's
// count of subscriptions after it.
func (h *hub) subscribe(c *transport.Conn, k kind, names [][]byte) {
	s := subscriberOf(c)
	loc := h.localOf(c.Loop())
	if s.count() == 0 && h.limit > 0 {
		s.limit = c.MaxQueued()
		if err := c.SetMaxQueued(h.limit); err != nil {
			// The conn's own limits contradict the pubsub limit (a soft limit
			// above it), or it is over it already: no subscription.
			writeError(c, "ERR "+err.Error())
			return
		}
	}
	mine, lists := sets(k, s, loc)
	for _, name := range names {
		if _, ok := (*mine)[string(name)]; !ok {
			if *mine == nil {
				*mine = map[string]struct{}{}
			}
			key := string(name)
			(*mine)[key] = struct{}{}
			lists[key] = append(lists[key], s)
			h.count(k, loc, key, +1)
		}
		writeSubscription(c, k.subscribe, name, s.count())
	}
}

// unsubscribe is UNSUBSCRIBE or PUNSUBSCRIBE: the names given, or all of the
// conn's of that kind; one reply per name, or one with a null name when there
// were none.
func (h *hub) unsubscribe(c *transport.Conn, k kind, names [][]byte) {
	s, _ := c.Context().(*subscriber)
	if len(names) == 0 {
		var all map[string]struct{}
		if s != nil {
			all = s.channels
			if k.pattern {
				all = s.patterns
			}
		}
		if len(all) == 0 {
			writeSubscription(c, k.unsubscribe, nil, countOf(s))
			return
		}
		for name := range all {
			h.drop(c, k, s, name)
			writeSubscription(c, k.unsubscribe, []byte(name), s.count())
		}
		return
	}
	for _, name := range names {
		if s != nil {
			h.drop(c, k, s, string(name))
		}
		writeSubscription(c, k.unsubscribe, name, countOf(s))
	}
}

func countOf(s *subscriber) int {
	if s == nil {
		return 0
	}
	return s.count()
}

// drop ends s's subscription to name, if it has one. The last one lifts the
// conn's pubsub output limit.
func (h *hub) drop(c *transport.Conn, k kind, s *subscriber, name string) {
	loc := h.localOf(c.Loop())
	mine, lists := sets(k, s, loc)
	if _, ok := (*mine)[name]; !ok {
		return
	}
	delete(*mine, name)
	list := lists[name]
	for i, o := range list {
		if o == s {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(lists, name)
	} else {
		lists[name] = list
	}
	h.count(k, loc, name, -1)
	if s.count() == 0 && h.limit > 0 && c.State() != transport.Closed {
		c.SetMaxQueued(s.limit) // a limit it had before; valid, since it had it
	}
}

// forget drops every subscription of a conn that closed.
func (h *hub) forget(c *transport.Conn) {
	s, ok := c.Context().(*subscriber)
	if !ok {
		return
	}
	for name := range s.channels {
		h.drop(c, channelKind, s, name)
	}
	for name := range s.patterns {
		h.drop(c, patternKind, s, name)
	}
}

// count adds delta to name's subscribers on loc's loop.
func (h *hub) count(k kind, loc *local, name string, delta int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	counts := h.channels
	if k.pattern {
		counts = h.patterns
	}
	per := counts[name]
	if len(per) <= loc.index {
		per = append(per, make([]int32, loc.index+1-len(per))...)
	}
	per[loc.index] += delta
	for _, n := range per {
		if n != 0 {
			counts[name] = per
			return
		}
	}
	delete(counts, name)
}

// publish is PUBLISH channel message: it queues the message for every loop with
// a subscriber of the channel or of a pattern it matches, and returns how many
// subscribers there are. The messages go out when the publisher's OnData
// returns (flush).
func (h *hub) publish(c *transport.Conn, channel, msg []byte) (receivers int, pub *local) {
	pub = h.localOf(c.Loop())
	h.mu.RLock()
	if n := len(h.byIndex); len(pub.targets) < n {
		pub.targets = make([]bool, n)
		pub.out = append(pub.out, make([]*batch, n-len(pub.out))...)
	}
	mark := func(per []int32) {
		for i, n := range per {
			if n > 0 {
				receivers += int(n)
				pub.targets[i] = true
			}
		}
	}
	mark(h.channels[string(channel)])
	for pattern, per := range h.patterns {
		if globMatch(pattern, channel) {
			mark(per)
		}
	}
	h.mu.RUnlock()
	for i, on := range pub.targets {
		if !on {
			continue
		}
		pub.targets[i] = false
		b := pub.out[i]
		if b == nil {
			b = &batch{}
			pub.out[i] = b
		}
		b.data = append(b.data, channel...)
		chEnd := len(b.data)
		b.data = append(b.data, msg...)
		b.msgs = append(b.msgs, message{chEnd: chEnd, end: len(b.data)})
	}
	return receivers, pub
}

// flush hands what pub's loop published to the loops it is for: its own at
// once, every other in one task. Loop goroutine of pub.
func (h *hub) flush(pub *local) {
	for i, b := range pub.out {
		if b == nil {
			continue
		}
		pub.out[i] = nil
		h.mu.RLock()
		dest := h.byIndex[i]
		h.mu.RUnlock()
		if dest == pub {
			dest.deliver(b)
			continue
		}
		dest.l.Submit(func() { dest.deliver(b) }) // a stopped loop has no subscribers left
	}
}

// deliver writes a batch's messages to this loop's subscribers. A subscriber
// that does not read is closed by the transport once it owes more than the
// pubsub limit (Conn.SetMaxQueued), at the end of the round.
func (loc *local) deliver(b *batch) {
	start := 0
	for _, m := range b.msgs {
		channel, msg := b.data[start:m.chEnd], b.data[m.chEnd:m.end]
		start = m.end
		if subs := loc.channels[string(channel)]; len(subs) > 0 {
			loc.frame = appendMessage(loc.frame[:0], channel, msg)
			for _, s := range subs {
				s.c.Write(loc.frame)
			}
		}
		for pattern, subs := range loc.patterns {
			if globMatch(pattern, channel) {
				loc.frame = appendPMessage(loc.frame[:0], pattern, channel, msg)
				for _, s := range subs {
					s.c.Write(loc.frame)
				}
			}
		}
	}
}

// appendMessage appends a message push: ["message", channel, msg].
func appendMessage(out, channel, msg []byte) []byte {
	out = append(out, "*3\r\n$7\r\nmessage\r\n"...)
	out = appendBulk(out, channel)
	return appendBulk(out, msg)
}

// appendPMessage appends a pattern's message push: ["pmessage", pattern,
// channel, msg].
func appendPMessage(out []byte, pattern string, channel, msg []byte) []byte {
	out = append(out, "*4\r\n$8\r\npmessage\r\n"...)
	out = appendBulk(out, pattern)
	out = appendBulk(out, channel)
	return appendBulk(out, msg)
}

func appendBulk[T []byte | string](out []byte, val T) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(val)), 10)
	out = append(out, '\r', '\n')
	out = append(out, val...)
	return append(out, '\r', '\n')
}

// writeSubscription queues a (un)subscribe confirmation: [what, name, count],
// with a null name for an UNSUBSCRIBE that had nothing to drop.
func writeSubscription(c *transport.Conn, what string, name []byte, count int) {
	var b [128]byte
	out := append(b[:0], "*3\r\n"...)
	out = appendBulk(out, what)
	if name == nil {
		out = append(out, "$-1\r\n"...)
	} else {
		out = appendBulk(out, name)
	}
	out = append(out, ':')
	out = strconv.AppendInt(out, int64(count), 10)
	out = append(out, '\r', '\n')
	c.Write(out)
}

// pingSubscribed is PING in subscribed mode: ["pong", message or ""].
func pingSubscribed(c *transport.Conn, args [][]byte) {
	var b [64]byte
	out := append(b[:0], "*2\r\n$4\r\npong\r\n"...)
	var msg []byte
	if len(args) == 2 {
		msg = args[1]
	}
	c.Write(appendBulk(out, msg))
}

// globMatch reports whether s matches pattern as Redis's glob patterns do:
// * (any run), ? (any byte), [abc], [^abc], [a-z], and \ to quote. It keeps the
// last * to backtrack to, so it takes at most len(pattern)*len(s) steps.
func globMatch(pattern string, s []byte) bool {
	p, i := 0, 0
	star, resume := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				star, resume = p, i
				p++
				continue
			case '?':
				p, i = p+1, i+1
				continue
			case '[':
				if end, ok := matchClass(pattern, p, s[i]); ok {
					p, i = end, i+1
					continue
				}
			case '\\':
				if p+1 < len(pattern) {
					c = pattern[p+1]
					if c == s[i] {
						p, i = p+2, i+1
						continue
					}
					break
				}
				fallthrough
			default:
				if c == s[i] {
					p, i = p+1, i+1
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		resume++
		p, i = star+1, resume
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches b against the class that opens at pattern[open] ('['),
// and returns where the pattern goes on after it. An unclosed class runs to the
// pattern's end, as in Redis.
func matchClass(pattern string, open int, b byte) (int, bool) {
	p := open + 1
	negate := p < len(pattern) && pattern[p] == '^'
	if negate {
		p++
	}
	matched := false
	for p < len(pattern) && pattern[p] != ']' {
		switch {
		case pattern[p] == '\\' && p+1 < len(pattern):
			matched = matched || pattern[p+1] == b
			p += 2
		case p+2 < len(pattern) && pattern[p+1] == '-':
			lo, hi := pattern[p], pattern[p+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			matched = matched || lo <= b && b <= hi
			p += 3
		default:
			matched = matched || pattern[p] == b
			p++
		}
	}
	if p < len(pattern) {
		p++ // the ']'
	}
	return p, matched != negate
}
