package membership

import (
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// edgeRows encodes exactly what the value.Value rows (rowOf) and ids (edgeID) it stands for
// encode to, for top-level and subquery members, odd keys and a gone edge's id.
func TestEdgeRowsEncodeAsTheirValues(t *testing.T) {
	w := NewWriter(nil, UserTable("alice"), WriterOptions{Log: quietLog()})
	w.apply(&ViewDelta{ViewKey: "v ⟩ 1", ClientID: "client-1", AuthID: "user:alice", Delta: engine.Delta{Added: []engine.Member{
		{Key: "thread:1", Version: 3}, {Key: "thread:⟨a b⟩", Version: 1},
		{Key: "comment:9", Version: 2, Parent: "thread:1", Rel: "comments"},
		{Key: "user:x", Version: 1, Parent: "comment:9", Rel: "author"},
		{Key: "thread:123", Version: 7},
	}}})
	keys := []engine.MemberKey{
		{Key: "thread:1"}, {Key: "thread:⟨a b⟩"}, {Parent: "thread:1", Rel: "comments", Key: "comment:9"},
		{Parent: "comment:9", Rel: "author", Key: "user:x"}, {Key: "thread:123"},
	}
	var present []*edgeKey
	var rows, ids, versions []value.Value
	for _, k := range keys {
		ek := &edgeKey{"v ⟩ 1", k}
		if _, ok := w.views[ek.view].members[k]; !ok {
			t.Fatalf("%v: not a member", k)
		}
		present = append(present, ek)
		id := w.edgeID("v ⟩ 1", k)
		row, _ := w.edgeRowWithID(*ek, id)
		rows, ids = append(rows, row), append(ids, id)
		versions = append(versions, value.ObjectOf([]value.Field{{Key: "id", Val: id}, {Key: "v", Val: row.Get("version")}}))
	}
	gone := &edgeKey{"v ⟩ 1", engine.MemberKey{Key: "thread:404"}}
	if _, ok := w.views[gone.view].members[gone.MemberKey]; ok {
		t.Fatal("thread:404 is a member")
	}
	ids = append(ids, w.edgeID("v ⟩ 1", gone.MemberKey))
	for _, tt := range []struct {
		name string
		got  edgeRows
		want value.Value
	}{
		{"rows", edgeRows{w: w, edges: present, kind: changeRow}, value.Array(rows)},
		{"ids", edgeRows{w: w, edges: append(present, gone), kind: changeGone}, value.Array(ids)},
		{"versions", edgeRows{w: w, edges: present, kind: changeVersion}, value.Array(versions)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var wv conn.CBOR
			wv.Value(tt.want)
			var got, want any
			if err := cbor.Unmarshal(tt.got.AppendCBOR(nil), &got); err != nil {
				t.Fatal(err)
			}
			if err := cbor.Unmarshal(wv.B, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("edgeRows\n%#v\nvalues\n%#v", got, want)
			}
			m, err := tt.got.MarshalCBOR()
			if err != nil || !reflect.DeepEqual(m, tt.got.AppendCBOR(nil)) {
				t.Fatalf("MarshalCBOR differs from AppendCBOR (%v)", err)
			}
		})
	}
}
