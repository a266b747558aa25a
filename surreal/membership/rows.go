package membership

import (
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
)

// edgeRows are the edges of one of a run's statements (writeRun), bound as one variable that
// encodes itself from the writer's state when the query is sent: for changeRow the rows, the
// same CBOR as the value.Value row (rowOf) would give; for changeGone their ids (edgeID); for
// changeVersion objects {id, v} of the id and the new version. The query is sent while the
// writer's owner waits for it (a flush), so the state it reads does not change under it.
// Every edge of a changeRow or changeVersion list is present in the writer's mirror.
type edgeRows struct {
	w     *Writer
	edges []*edgeKey
	kind  edgeChange
}

var _ conn.CBORAppender = edgeRows{}

// AppendCBOR implements conn.CBORAppender.
func (r edgeRows) AppendCBOR(buf []byte) []byte {
	c := conn.CBOR{B: buf}
	c.Array(len(r.edges))
	for _, k := range r.edges {
		if r.kind == changeGone {
			r.appendID(&c, k.view, k.MemberKey)
			continue
		}
		vs := r.w.views[k.view]
		m := vs.members[k.MemberKey]
		if r.kind == changeVersion {
			c.Map(2)
			c.Text("id")
			r.appendID(&c, k.view, k.MemberKey)
			c.Text("v")
			c.Int(m.version)
			continue
		}
		n := 6
		if k.Parent != "" {
			n = 8
		}
		c.Map(n)
		c.Text("id")
		r.appendID(&c, k.view, k.MemberKey)
		c.Text("in")
		c.Record(QueryTable)
		c.Text(k.view)
		c.Text("out")
		c.Value(m.out)
		c.Text("version")
		c.Int(m.version)
		c.Text("clientId")
		c.Text(vs.clientID)
		c.Text("auth_id")
		c.Text(vs.authID)
		if k.Parent != "" {
			ps := vs.parentSlot(k.Parent)
			c.Text("parent")
			r.appendID(&c, k.view, engine.MemberKey{Parent: ps.parent, Rel: ps.rel, Key: k.Parent})
			c.Text("parent_rel")
			c.Text(k.Rel)
		}
	}
	return c.B
}

// appendID appends the edge id edgeID gives.
func (r edgeRows) appendID(c *conn.CBOR, view string, p engine.MemberKey) {
	c.Record(r.w.table)
	c.Array(4)
	c.Text(view)
	c.Text(p.Parent)
	c.Text(p.Rel)
	c.Text(p.Key)
}

// MarshalCBOR implements conn.CBORAppender (for the SDK's encoder).
func (r edgeRows) MarshalCBOR() ([]byte, error) { return r.AppendCBOR(nil), nil }
