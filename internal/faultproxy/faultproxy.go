// Package faultproxy is a TCP proxy for tests that puts real network faults between a client
// and a server (the SSP and its SurrealDB): it forwards connections, and on demand cuts the open
// ones, refuses new ones (the server is down) or holds them open passing nothing (the network
// hangs). It counts the connections it accepted: every dial of the client is one.
package faultproxy

import (
	"fmt"
	"io"
	"net"
	"sync"
)

// Mode is how the proxy treats connections.
type Mode int

const (
	// Forward passes bytes both ways.
	Forward Mode = iota
	// Refuse closes every new connection at once (the server is down).
	Refuse
	// Stall holds new connections open and passes nothing (the network hangs).
	Stall
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Forward:
		return "forward"
	case Refuse:
		return "refuse"
	case Stall:
		return "stall"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Proxy forwards TCP connections from its listener to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	n     int
	mode  Mode
}

// New listens on a free loopback port and forwards to target ("host:port") until Close.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target}
	go p.serve()
	return p, nil
}

// Addr is the proxy's "host:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted is the number of connections accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// SetMode switches how new connections are treated; leaving Forward cuts the open ones.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
	if m != Forward {
		p.Cut()
	}
}

// Cut closes every open connection (the clients see their connection lost).
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Close stops listening and cuts every connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.Cut()
	return err
}

func (p *Proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.n++
		mode := p.mode
		if mode == Stall {
			p.conns = append(p.conns, in)
		}
		p.mu.Unlock()
		switch mode {
		case Refuse:
			_ = in.Close()
			continue
		case Stall:
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}
