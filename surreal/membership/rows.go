package membership

import (
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
)

// edgeRef is one edge of a flush as its statement needs it: the view, the member position and,
// for a present edge, what its row holds. It refers to the writer's state instead of copying
// it into value.Values: a flush's rows are encoded once, straight to CBOR (edgeRows).
type edgeRef struct {
	view     string
	key      engine.MemberKey
	m        member
	vs       *viewState // nil for a gone edge (only the id is written)
	parent   slot       // the parent pointer of a subquery member
	clientID string
	authID   string
}

// edgeRows are the rows of a run's INSERT (or, with ids set, the ids of its DELETE), bound
// as one variable that encodes itself: the same CBOR as the value.Value row (rowOf) or id
// (edgeID) would give, without building them.
type edgeRows struct {
	table string
	refs  []edgeRef
	ids   bool // only the edges' ids
}

var _ conn.CBORAppender = edgeRows{}

// AppendCBOR implements conn.CBORAppender.
func (r edgeRows) AppendCBOR(buf []byte) []byte {
	c := conn.CBOR{B: buf}
	c.Array(len(r.refs))
	for i := range r.refs {
		e := &r.refs[i]
		if r.ids {
			r.appendID(&c, e.view, e.key)
			continue
		}
		n := 6
		if e.key.Parent != "" {
			n = 8
		}
		c.Map(n)
		c.Text("id")
		r.appendID(&c, e.view, e.key)
		c.Text("in")
		c.Record(QueryTable)
		c.Text(e.view)
		c.Text("out")
		c.Value(e.m.out)
		c.Text("version")
		c.Int(e.m.version)
		c.Text("clientId")
		c.Text(e.clientID)
		c.Text("auth_id")
		c.Text(e.authID)
		if e.key.Parent != "" {
			c.Text("parent")
			r.appendID(&c, e.view, engine.MemberKey{Parent: e.parent.parent, Rel: e.parent.rel, Key: e.key.Parent})
			c.Text("parent_rel")
			c.Text(e.key.Rel)
		}
	}
	return c.B
}

// appendID appends the edge id edgeID gives.
func (r edgeRows) appendID(c *conn.CBOR, view string, p engine.MemberKey) {
	c.Record(r.table)
	c.Array(4)
	c.Text(view)
	c.Text(p.Parent)
	c.Text(p.Rel)
	c.Text(p.Key)
}

// MarshalCBOR implements conn.CBORAppender (for the SDK's encoder).
func (r edgeRows) MarshalCBOR() ([]byte, error) { return r.AppendCBOR(nil), nil }

// ref returns what edge k's write needs: its row when the member is present (true), else
// only its id (false).
func (w *Writer) ref(k edgeKey) (edgeRef, bool) {
	e := edgeRef{view: k.view, key: k.MemberKey}
	vs := w.views[k.view]
	if vs == nil {
		return e, false
	}
	m, ok := vs.members[k.MemberKey]
	if !ok {
		return e, false
	}
	e.vs, e.m, e.clientID, e.authID = vs, m, vs.clientID, vs.authID
	if k.Parent != "" {
		e.parent = vs.parentSlot(k.Parent)
	}
	return e, true
}
