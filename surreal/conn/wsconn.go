package conn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/gorilla/websocket"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/connection"
	"github.com/surrealdb/surrealdb.go/pkg/connection/gws"
	"github.com/surrealdb/surrealdb.go/pkg/connection/rpc"
)

// wsConn is the WebSocket transport of the SDK's RPC protocol (CBOR frames) used by Conn
// instead of the SDK's own: the SDK's gorilla engine panics in its read loop after a
// connection reset, and its gws engine races when a call follows a remote close. Here the
// first read or write error closes the connection and fails every waiting and later call,
// without data races.
//
// The SDK (surrealdb.DB) still does everything above the transport — signin, use, version —
// except queries, which Conn sends with query (its own request encoding) when it can. The embedded SDK connection is never connected; it only provides
// GetUnmarshaler, whose return type is internal to the SDK. Every other method of
// connection.Connection is implemented here.
type wsConn struct {
	*gws.Connection

	url  string
	conf *connection.Config

	ws      *websocket.Conn
	writeMu sync.Mutex
	seq     atomic.Uint64
	bufs    sync.Pool // *[]byte: encoded query requests, reused once sent

	mu      sync.Mutex
	pending map[string]chan *connection.RPCResponse[cbor.RawMessage]
	err     error         // why the connection ended; set once, before done closes
	done    chan struct{} // closed when the connection has ended
}

var _ connection.Connection = (*wsConn)(nil)

func newWSConn(conf *connection.Config) *wsConn {
	return &wsConn{
		Connection: gws.New(conf),
		url:        conf.BaseURL + "/rpc",
		conf:       conf,
		pending:    map[string]chan *connection.RPCResponse[cbor.RawMessage]{},
		done:       make(chan struct{}),
	}
}

// Connect dials the server and starts reading responses.
func (c *wsConn) Connect(ctx context.Context) error {
	d := websocket.Dialer{Subprotocols: []string{"cbor"}, HandshakeTimeout: 30 * time.Second}
	ws, resp, err := d.DialContext(ctx, c.url, http.Header{})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("websocket %s: %w", c.url, err)
	}
	c.ws = ws
	go c.readLoop()
	return nil
}

func (c *wsConn) readLoop() {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.fail(fmt.Errorf("surrealdb connection lost: %w", err))
			return
		}
		var res connection.RPCResponse[cbor.RawMessage]
		// The envelope holds no tagged values of SurrealDB's (the result stays raw), so the
		// plain decoder does: the SDK's reflection decoder cost several times as much.
		if err := cbor.Unmarshal(data, &res); err != nil {
			continue // not a response we can route; the caller times out
		}
		if res.ID == nil {
			continue // a live-query notification (not used by the SSP)
		}
		id := fmt.Sprint(res.ID)
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- &res // buffered
		}
	}
}

// fail ends the connection with err (the first error wins).
func (c *wsConn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	c.mu.Unlock()
	if c.ws != nil {
		_ = c.ws.Close()
	}
}

func (c *wsConn) ended() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection, sending a close frame first.
func (c *wsConn) Close(ctx context.Context) error {
	if c.ended() == nil && c.ws != nil {
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(time.Second)
		}
		c.writeMu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
		c.writeMu.Unlock()
	}
	c.fail(ErrClosed)
	return nil
}

// Send sends one RPC request and waits for its response.
func (c *wsConn) Send(ctx context.Context, method string, params ...any) (*connection.RPCResponse[cbor.RawMessage], error) {
	return c.Call(ctx, &connection.RPCRequest{Method: method, Params: params})
}

// Call sends req and waits for its response, the end of the connection or ctx.
func (c *wsConn) Call(ctx context.Context, req *connection.RPCRequest) (*connection.RPCResponse[cbor.RawMessage], error) {
	id := strconv.FormatUint(c.seq.Add(1), 10)
	r := *req
	r.ID = id
	data, err := c.conf.Marshaler.Marshal(&r)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", req.Method, err)
	}
	return c.roundTrip(ctx, id, data)
}

// query runs a `query` RPC with the request encoded by appendQueryRequest and returns the
// statements' results; ok is false (nothing sent) when vars hold a value that encoder does
// not know, for the caller to use the SDK.
func (c *wsConn) query(ctx context.Context, surql string, vars map[string]any) (res []surrealdb.QueryResult[cbor.RawMessage], ok bool, err error) {
	id := strconv.FormatUint(c.seq.Add(1), 10)
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	data, ok := appendQueryRequest((*bp)[:0], id, surql, vars)
	if !ok {
		c.bufs.Put(bp)
		return nil, false, nil
	}
	r, err := c.roundTrip(ctx, id, data)
	if cap(data) <= maxPooledRequest {
		*bp = data // the frame was written (or the call failed): the bytes are free again
		c.bufs.Put(bp)
	}
	if err != nil {
		return nil, true, err
	}
	if r.Result == nil {
		return nil, true, nil
	}
	var raw []struct {
		Status string          `json:"status"`
		Time   string          `json:"time"`
		Result cbor.RawMessage `json:"result"`
	}
	if err := cbor.Unmarshal(*r.Result, &raw); err != nil { // raw results: no tags to decode here
		return nil, true, fmt.Errorf("decode query response: %w", err)
	}
	res = make([]surrealdb.QueryResult[cbor.RawMessage], len(raw))
	for i, x := range raw {
		res[i] = surrealdb.QueryResult[cbor.RawMessage]{Status: x.Status, Time: x.Time, Result: x.Result}
		if x.Status == "ERR" {
			var msg string
			if x.Result != nil {
				if err := c.conf.Unmarshaler.Unmarshal(x.Result, &msg); err != nil {
					return nil, true, fmt.Errorf("decode error message of statement %d: %w", i, err)
				}
			}
			res[i].Result, res[i].Error = nil, &surrealdb.QueryError{Message: msg}
		}
	}
	return res, true, nil
}

// maxPooledRequest is the largest request buffer kept for reuse.
const maxPooledRequest = 1 << 20

// roundTrip sends an encoded request with the given id and waits for its response, the end of
// the connection or ctx.
func (c *wsConn) roundTrip(ctx context.Context, id string, data []byte) (*connection.RPCResponse[cbor.RawMessage], error) {
	var err error
	ch := make(chan *connection.RPCResponse[cbor.RawMessage], 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Time{}
	}
	c.writeMu.Lock()
	_ = c.ws.SetWriteDeadline(deadline)
	err = c.ws.WriteMessage(websocket.BinaryMessage, data)
	c.writeMu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("surrealdb connection lost: %w", err))
		return nil, c.ended()
	}

	select {
	case res := <-ch:
		if res.Error != nil {
			return nil, res.Error
		}
		return res, nil
	case <-c.done:
		return nil, c.ended()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Use selects the namespace and database.
func (c *wsConn) Use(ctx context.Context, namespace, database string) error {
	return connection.Send[any](c, ctx, nil, "use", namespace, database)
}

// Let sets a session variable.
func (c *wsConn) Let(ctx context.Context, key string, value any) error {
	return connection.Send[any](c, ctx, nil, "let", key, value)
}

// Unset removes a session variable.
func (c *wsConn) Unset(ctx context.Context, key string) error {
	return connection.Send[any](c, ctx, nil, "unset", key)
}

// Authenticate authenticates the session with a token.
func (c *wsConn) Authenticate(ctx context.Context, token string) error {
	return rpc.Authenticate(c, ctx, token)
}

// SignUp signs up a record user.
func (c *wsConn) SignUp(ctx context.Context, authData any) (string, error) {
	return rpc.SignUp(c, ctx, authData)
}

// SignUpWithRefresh signs up a record user, returning a refresh token too.
func (c *wsConn) SignUpWithRefresh(ctx context.Context, authData any) (*connection.Tokens, error) {
	return rpc.SignUpWithRefresh(c, ctx, authData)
}

// SignIn signs in.
func (c *wsConn) SignIn(ctx context.Context, authData any) (string, error) {
	return rpc.SignIn(c, ctx, authData)
}

// SignInWithRefresh signs in, returning a refresh token too.
func (c *wsConn) SignInWithRefresh(ctx context.Context, authData any) (*connection.Tokens, error) {
	return rpc.SignInWithRefresh(c, ctx, authData)
}

// Invalidate ends the session's authentication.
func (c *wsConn) Invalidate(ctx context.Context) error {
	return rpc.Invalidate(c, ctx)
}

// errNoLive: the SSP does not use live queries on its own connection.
var errNoLive = errors.New("live queries are not supported on the SSP's connection")

// LiveNotifications is not supported.
func (c *wsConn) LiveNotifications(string) (chan connection.Notification, error) {
	return nil, errNoLive
}

// CloseLiveNotifications is not supported.
func (c *wsConn) CloseLiveNotifications(string) error {
	return errNoLive
}
