// Package engine is the incremental view engine of the SSP: it keeps the base rows of every table
// that views read and, for each registered view, per-operator state (filters, ordered LIMIT/START
// windows, per-parent subquery state) so that applying one change costs time proportional to the
// change and the views it affects, and yields each affected view's membership delta.
package engine

import (
	"slices"
	"strings"

	"github.com/sp00ky/ssp/surreal/value"
)

// Op is the kind of a change.
type Op uint8

// The change operations of /ingest. Create and Update are both upserts of the full row; Merge
// merges the given fields into the stored row; Delete removes the row.
const (
	OpCreate Op = iota + 1
	OpUpdate
	OpMerge
	OpDelete
)

// Change is one validated row change.
type Change struct {
	Table  string
	Op     Op
	ID     value.Value // a record id of Table
	Record value.Value // the row (an object) for Create/Update/Merge; NONE for Delete
}

// Member is one record of a view's membership: a top-level row (Parent and Rel empty) or a row
// of a subquery field, with Parent the record holding the field and Rel the field's alias.
// Version is the row's integer `_00_rv` (1 when absent).
type Member struct {
	Key     string `json:"key"`
	Version int64  `json:"version"`
	Parent  string `json:"parent,omitempty"`
	Rel     string `json:"rel,omitempty"`
}

// MemberKey is a member's identity within its view: the record and where it sits (Parent and
// Rel empty at the top level). A record can be a member at several places at once.
type MemberKey struct {
	Parent, Rel, Key string
}

// ID returns m's identity.
func (m Member) ID() MemberKey {
	return MemberKey{Parent: m.Parent, Rel: m.Rel, Key: m.Key}
}

// Less orders member keys by Parent, then Rel, then Key, in byte order: the order of every
// membership the engine returns and of every list built from one.
func (k MemberKey) Less(o MemberKey) bool {
	return k.compare(o) < 0
}

func (k MemberKey) compare(o MemberKey) int {
	if c := strings.Compare(k.Parent, o.Parent); c != 0 {
		return c
	}
	if c := strings.Compare(k.Rel, o.Rel); c != 0 {
		return c
	}
	return strings.Compare(k.Key, o.Key)
}

// SortMembers sorts ms by their keys (MemberKey.Less).
func SortMembers(ms []Member) {
	if len(ms) < 2 {
		return
	}
	slices.SortFunc(ms, func(a, b Member) int { return a.ID().compare(b.ID()) })
}

// Delta is how one view's membership changed in one step. Updated holds members still present
// whose version or row content changed, with their new version.
type Delta struct {
	View    string
	Added   []Member
	Removed []Member
	Updated []Member
}
