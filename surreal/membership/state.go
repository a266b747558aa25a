package membership

import (
	"sort"

	"github.com/sp00ky/ssp/surreal/value"
)

// pos is one position of a member in a view: a top-level row (parent and rel empty) or a row
// of the subquery field rel of the record parent. It is also the identity of its edge.
type pos struct {
	parent, rel, key string
}

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

// viewRef names a view's edges: the list_ref table and the view key.
type viewRef struct {
	table, view string
}

// viewState mirrors one view's membership as the writer last received it, so that each edge
// can be written from the latest state and parent pointers can be chosen.
type viewState struct {
	clientID, authID string
	members          map[pos]member
	slots            map[string]map[slot]struct{} // record key → its slots
	children         map[string]map[pos]struct{}  // parent record key → its child positions
}

func newViewState() *viewState {
	return &viewState{
		members:  map[pos]member{},
		slots:    map[string]map[slot]struct{}{},
		children: map[string]map[pos]struct{}{},
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
	for sl := range s.slots[key] {
		if sl.parent == "" {
			return slot{}
		}
		if first || sl.less(best) {
			best, first = sl, false
		}
	}
	return best
}

// set records p at version v and returns the child positions whose parent pointer changed.
func (s *viewState) set(p pos, m member) []pos {
	if old, ok := s.members[p]; ok {
		old.version = m.version
		old.out = m.out
		s.members[p] = old
		return nil
	}
	before := s.parentSlot(p.key)
	s.members[p] = m
	sl := s.slots[p.key]
	if sl == nil {
		sl = map[slot]struct{}{}
		s.slots[p.key] = sl
	}
	sl[slot{p.parent, p.rel}] = struct{}{}
	if p.parent != "" {
		ch := s.children[p.parent]
		if ch == nil {
			ch = map[pos]struct{}{}
			s.children[p.parent] = ch
		}
		ch[p] = struct{}{}
	}
	return s.repointed(p.key, before)
}

// remove forgets p and returns the child positions whose parent pointer changed.
func (s *viewState) remove(p pos) []pos {
	if _, ok := s.members[p]; !ok {
		return nil
	}
	before := s.parentSlot(p.key)
	delete(s.members, p)
	if sl := s.slots[p.key]; sl != nil {
		delete(sl, slot{p.parent, p.rel})
		if len(sl) == 0 {
			delete(s.slots, p.key)
		}
	}
	if p.parent != "" {
		if ch := s.children[p.parent]; ch != nil {
			delete(ch, p)
			if len(ch) == 0 {
				delete(s.children, p.parent)
			}
		}
	}
	return s.repointed(p.key, before)
}

func (s *viewState) repointed(key string, before slot) []pos {
	if s.parentSlot(key) == before {
		return nil
	}
	ch := s.children[key]
	out := make([]pos, 0, len(ch))
	for c := range ch {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].less(out[j]) })
	return out
}

func (p pos) less(o pos) bool {
	if p.parent != o.parent {
		return p.parent < o.parent
	}
	if p.rel != o.rel {
		return p.rel < o.rel
	}
	return p.key < o.key
}
