package membership

import (
	"sort"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// A member's position in a view — a top-level row (Parent and Rel empty) or a row of the
// subquery field Rel of the record Parent — is its engine.MemberKey; it is also the identity of
// its edge.

// slot is where a record sits: under which parent and alias ("" and "" at the top level).
type slot struct {
	parent, rel string
}

func (s slot) less(o slot) bool {
	if s.parent != o.parent {
		return s.parent < o.parent
	}
	return s.rel < o.rel
}

// member is what the writer knows of one position.
type member struct {
	version int64
	out     value.Value // the member's record id
}

// viewState mirrors one view's membership as the writer last received it, so that each edge
// can be written from the latest state and parent pointers can be chosen.
type viewState struct {
	clientID, authID string
	members          map[engine.MemberKey]member
	slots            map[string][]slot                        // record key → its slots (a set; mostly one)
	children         map[string]map[engine.MemberKey]struct{} // parent record key → its child positions
}

func newViewState() *viewState {
	return &viewState{
		members:  map[engine.MemberKey]member{},
		slots:    map[string][]slot{},
		children: map[string]map[engine.MemberKey]struct{}{},
	}
}

// parentSlot returns the slot whose edge the `parent` field of key's children points at.
//
// Rule: when the record key is a top-level member of the view, its top-level edge; otherwise,
// among the slots the record occupies, the smallest by (parent, rel) in byte order. While the
// record occupies no slot (a child arriving before its parent), the top-level slot, which is
// corrected once the record shows up elsewhere.
func (s *viewState) parentSlot(key string) slot {
	var best slot
	first := true
	for _, sl := range s.slots[key] {
		if sl.parent == "" {
			return slot{}
		}
		if first || sl.less(best) {
			best, first = sl, false
		}
	}
	return best
}

// set records p with m and returns the child positions whose parent pointer changed.
func (s *viewState) set(p engine.MemberKey, m member) []engine.MemberKey {
	if old, ok := s.members[p]; ok {
		old.version = m.version
		old.out = m.out
		s.members[p] = old
		return nil
	}
	before := s.parentSlot(p.Key)
	s.members[p] = m
	// p was not a member, so its slot is not in the set yet.
	s.slots[p.Key] = append(s.slots[p.Key], slot{p.Parent, p.Rel})
	if p.Parent != "" {
		ch := s.children[p.Parent]
		if ch == nil {
			ch = map[engine.MemberKey]struct{}{}
			s.children[p.Parent] = ch
		}
		ch[p] = struct{}{}
	}
	return s.repointed(p.Key, before)
}

// remove forgets p and returns the child positions whose parent pointer changed.
func (s *viewState) remove(p engine.MemberKey) []engine.MemberKey {
	if _, ok := s.members[p]; !ok {
		return nil
	}
	before := s.parentSlot(p.Key)
	delete(s.members, p)
	sl := s.slots[p.Key]
	for i, x := range sl {
		if x == (slot{p.Parent, p.Rel}) {
			last := len(sl) - 1
			sl[i] = sl[last]
			sl[last] = slot{}
			sl = sl[:last]
			break
		}
	}
	if len(sl) == 0 {
		delete(s.slots, p.Key)
	} else {
		s.slots[p.Key] = sl
	}
	if p.Parent != "" {
		if ch := s.children[p.Parent]; ch != nil {
			delete(ch, p)
			if len(ch) == 0 {
				delete(s.children, p.Parent)
			}
		}
	}
	return s.repointed(p.Key, before)
}

func (s *viewState) repointed(key string, before slot) []engine.MemberKey {
	if s.parentSlot(key) == before {
		return nil
	}
	return sortedKeys(s.children[key])
}

// positions returns the view's member positions in MemberKey order.
func (s *viewState) positions() []engine.MemberKey {
	out := make([]engine.MemberKey, 0, len(s.members))
	for p := range s.members {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

func sortedKeys(set map[engine.MemberKey]struct{}) []engine.MemberKey {
	out := make([]engine.MemberKey, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}
