package actors

import (
	"math"
	"slices"
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

func TestPercentiles(t *testing.T) {
	tests := []struct {
		name          string
		samples       []float64
		p55, p90, p99 float64
	}{
		{"empty", nil, math.NaN(), math.NaN(), math.NaN()},
		{"one", []float64{4}, 4, 4, 4},
		// index min(floor(q·n), n−1) of the sorted window
		{"ten", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 6, 10, 10},
		{"window keeps the last 100", append(repeat(1000, 50), repeat(1, 100)...), 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st viewStats
			for _, s := range tt.samples {
				st.record(s, 0)
			}
			p55, p90, p99 := st.percentiles()
			for _, c := range []struct{ got, want float64 }{{p55, tt.p55}, {p90, tt.p90}, {p99, tt.p99}} {
				if !(c.got == c.want || math.IsNaN(c.got) && math.IsNaN(c.want)) {
					t.Errorf("percentiles = %v %v %v, want %v %v %v", p55, p90, p99, tt.p55, tt.p90, tt.p99)
					break
				}
			}
			if st.updateCount != int64(len(tt.samples)) {
				t.Errorf("updateCount %d", st.updateCount)
			}
		})
	}
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// A view actor's published membership follows its deltas: added and updated members are set,
// removed ones go, and the top-level count (rowCount) counts top-level members only. (The
// difference between two whole memberships is the writer's job: membership.Writer.SetView.)
// What it hands on to the writer is the delta without the updated members it already holds
// as they are: re-emitted at their version, their edge rows would not change.
func TestViewStateApplyDelta(t *testing.T) {
	m := func(key string, v int64) engine.Member { return engine.Member{Key: key, Version: v} }
	sub := func(parent, key string, v int64) engine.Member {
		return engine.Member{Key: key, Version: v, Parent: parent, Rel: "c"}
	}
	tests := []struct {
		name        string
		have        []engine.Member
		delta       engine.Delta
		want        []engine.Member
		wantTop     int
		wantUpdated []engine.Member // the Updated members handed on
	}{
		{"add", nil, engine.Delta{Added: []engine.Member{m("a:1", 1)}}, []engine.Member{m("a:1", 1)}, 1, nil},
		{"remove", []engine.Member{m("a:1", 1)}, engine.Delta{Removed: []engine.Member{m("a:1", 1)}}, nil, 0, nil},
		{"remove unknown", []engine.Member{m("a:1", 1)}, engine.Delta{Removed: []engine.Member{m("a:2", 1)}}, []engine.Member{m("a:1", 1)}, 1, nil},
		{"version", []engine.Member{m("a:1", 1)}, engine.Delta{Updated: []engine.Member{m("a:1", 2)}}, []engine.Member{m("a:1", 2)}, 1,
			[]engine.Member{m("a:1", 2)}},
		{"re-emitted at its version", []engine.Member{m("a:1", 1)}, engine.Delta{Updated: []engine.Member{m("a:1", 1)}}, []engine.Member{m("a:1", 1)}, 1,
			[]engine.Member{}},
		{"some re-emitted at their version", []engine.Member{m("a:1", 1), m("a:2", 1), m("a:3", 4), sub("a:1", "b:1", 1)},
			engine.Delta{Updated: []engine.Member{m("a:1", 1), m("a:2", 2), m("a:3", 4), sub("a:1", "b:1", 1), m("a:4", 1)}},
			[]engine.Member{m("a:1", 1), m("a:2", 2), m("a:3", 4), sub("a:1", "b:1", 1), m("a:4", 1)}, 4,
			[]engine.Member{m("a:2", 2), m("a:4", 1)}},
		{"removed and updated again", []engine.Member{m("a:1", 1)},
			engine.Delta{Removed: []engine.Member{m("a:1", 1)}, Updated: []engine.Member{m("a:1", 1)}}, []engine.Member{m("a:1", 1)}, 1,
			[]engine.Member{m("a:1", 1)}},
		{"subquery member moves", []engine.Member{m("a:1", 1), sub("a:1", "b:1", 1)},
			engine.Delta{Added: []engine.Member{sub("a:2", "b:1", 1)}, Removed: []engine.Member{sub("a:1", "b:1", 1)}},
			[]engine.Member{m("a:1", 1), sub("a:2", "b:1", 1)}, 1, nil},
		{"same record at two positions", nil, engine.Delta{Added: []engine.Member{m("b:1", 1), sub("a:1", "b:1", 1)}},
			[]engine.Member{m("b:1", 1), sub("a:1", "b:1", 1)}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &viewState{key: "v"}
			st.setMembers(tt.have)
			gen := st.generation
			in := tt.delta
			in.Updated = append([]engine.Member(nil), tt.delta.Updated...)
			out := st.applyDelta(in)
			if describeMembers(st.members()) != describeMembers(sortedMembers(tt.want)) {
				t.Errorf("after the delta: %v, want %v", st.members(), tt.want)
			}
			if st.top != tt.wantTop {
				t.Errorf("top-level members %d, want %d", st.top, tt.wantTop)
			}
			if st.generation == gen {
				t.Error("the generation did not move")
			}
			if describeMembers(out.Updated) != describeMembers(tt.wantUpdated) {
				t.Errorf("updated members handed on: %v, want %v", out.Updated, tt.wantUpdated)
			}
			if describeMembers(out.Added) != describeMembers(tt.delta.Added) || describeMembers(out.Removed) != describeMembers(tt.delta.Removed) {
				t.Errorf("added/removed handed on: %v/%v, want them as given: %v/%v", out.Added, out.Removed, tt.delta.Added, tt.delta.Removed)
			}
			if !slices.Equal(in.Updated, tt.delta.Updated) {
				t.Errorf("the delta given was changed: Updated %v, was %v", in.Updated, tt.delta.Updated)
			}
		})
	}
}

func sortedMembers(ms []engine.Member) []engine.Member {
	out := append([]engine.Member(nil), ms...)
	engine.SortMembers(out)
	return out
}

func TestResultHash(t *testing.T) {
	a := []engine.Member{{Key: "t:1", Version: 1}, {Key: "c:1", Version: 2, Parent: "t:1", Rel: "c"}}
	b := []engine.Member{a[1], a[0]}
	if resultHash(a) != resultHash(b) {
		t.Error("hash depends on the order of the members")
	}
	if resultHash(nil) != resultHash([]engine.Member{}) {
		t.Error("nil and empty differ")
	}
	// The documented definition: SHA-256 of the JSON array of the sorted members.
	if got := resultHash(nil); got != "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945" {
		t.Errorf("hash of no members = %s (sha256 of \"[]\")", got)
	}
	c := []engine.Member{{Key: "t:1", Version: 2}, a[1]}
	if resultHash(a) == resultHash(c) {
		t.Error("a version change does not change the hash")
	}
}

func TestRecordVersion(t *testing.T) {
	tests := []struct {
		rv   value.Value
		want int64
	}{
		{value.None(), 0}, {value.Int(3), 3}, {value.Int(-1), -1}, {value.Float(2), 2}, {value.Float(2.5), 0},
		{value.String("3"), 0},
	}
	for _, tt := range tests {
		rec := value.ObjectOf([]value.Field{{Key: "_00_rv", Val: tt.rv}})
		if got := recordVersion(rec); got != tt.want {
			t.Errorf("recordVersion(%s) = %d, want %d", tt.rv.SurQL(), got, tt.want)
		}
	}
}
