package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// rawClient is a minimal HTTP/1.1 keep-alive client for POSTs of small JSON bodies to one
// server: it writes a prebuilt request with one write call and reads the answer without
// allocating per header, so that the load generator spends little CPU per request (net/http's
// client costs several times more, which on a small machine would be taken from the SSP).
// It is not safe for concurrent use; each load client has its own.
type rawClient struct {
	addr   string // host:port
	prefix []byte // request line and headers up to "Content-Length: "
	conn   net.Conn
	br     *bufio.Reader
	buf    []byte
}

// newRawClient returns a client POSTing to baseURL+path (an http:// URL) with a bearer token.
func newRawClient(baseURL, path, token string) (*rawClient, error) {
	rest, ok := strings.CutPrefix(baseURL, "http://")
	if !ok {
		return nil, fmt.Errorf("raw HTTP client: %q is not an http:// URL", baseURL)
	}
	host, _, _ := strings.Cut(rest, "/")
	prefix := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: ", path, host, token)
	return &rawClient{addr: host, prefix: []byte(prefix)}, nil
}

// post sends body and returns the status code and the response body (valid until the next
// call). On any transport error the connection is closed and the next call dials anew.
func (c *rawClient) post(ctx context.Context, body []byte) (int, []byte, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, nil, fmt.Errorf("dial %s: %w", c.addr, err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	req := append(c.buf[:0], c.prefix...)
	req = strconv.AppendInt(req, int64(len(body)), 10)
	req = append(req, "\r\n\r\n"...)
	req = append(req, body...)
	c.buf = req
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(dl)
	} else {
		_ = c.conn.SetDeadline(time.Time{})
	}
	if _, err := c.conn.Write(req); err != nil {
		c.close()
		return 0, nil, fmt.Errorf("send request: %w", err)
	}
	status, resp, keep, err := c.readResponse()
	if err != nil {
		c.close()
		return 0, nil, err
	}
	if !keep {
		c.close()
	}
	return status, resp, nil
}

// readResponse reads one response: status line, headers (Content-Length, chunked transfer
// encoding, Connection: close) and body.
func (c *rawClient) readResponse() (status int, body []byte, keep bool, err error) {
	line, err := c.line()
	if err != nil {
		return 0, nil, false, fmt.Errorf("read status line: %w", err)
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		h, err := c.line()
		if err != nil {
			return 0, nil, false, fmt.Errorf("read headers: %w", err)
		}
		if len(h) == 0 {
			break
		}
		name, val, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		val = bytes.TrimSpace(val)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(val)); err != nil || length < 0 {
				return 0, nil, false, fmt.Errorf("malformed Content-Length %q", val)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(val, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(val, []byte("close"))
		}
	}
	body = c.buf[:0]
	switch {
	case chunked:
		for {
			sz, err := c.line()
			if err != nil {
				return 0, nil, false, fmt.Errorf("read chunk size: %w", err)
			}
			szText, _, _ := bytes.Cut(sz, []byte(";"))
			n, err := strconv.ParseInt(string(bytes.TrimSpace(szText)), 16, 32)
			if err != nil || n < 0 {
				return 0, nil, false, fmt.Errorf("malformed chunk size %q", sz)
			}
			if n == 0 {
				for { // trailers up to the blank line
					t, err := c.line()
					if err != nil {
						return 0, nil, false, fmt.Errorf("read trailer: %w", err)
					}
					if len(t) == 0 {
						break
					}
				}
				break
			}
			if body, err = c.readN(body, int(n)); err != nil {
				return 0, nil, false, err
			}
			if _, err := c.line(); err != nil {
				return 0, nil, false, fmt.Errorf("read chunk end: %w", err)
			}
		}
	case length >= 0:
		if body, err = c.readN(body, length); err != nil {
			return 0, nil, false, err
		}
	default: // body until the connection closes
		rest, err := io.ReadAll(c.br)
		if err != nil {
			return 0, nil, false, fmt.Errorf("read body: %w", err)
		}
		body, keep = append(body, rest...), false
	}
	c.buf = body
	return status, body, keep, nil
}

// line reads one line without its CRLF; the slice is valid until the next read.
func (c *rawClient) line() ([]byte, error) {
	l, err := c.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("header line longer than 4 KiB")
		}
		return nil, err
	}
	return bytes.TrimRight(l, "\r\n"), nil
}

func (c *rawClient) readN(dst []byte, n int) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	if _, err := io.ReadFull(c.br, dst[start:]); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return dst, nil
}

func (c *rawClient) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.br = nil, nil
	}
}
