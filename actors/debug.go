package actors

import (
	"context"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sp00ky/ssp/scheduler"
)

// Messages every actor or supervisor answers for /debug/actors.
type (
	// listChildrenReq asks a supervisor for its children; answered with childList.
	listChildrenReq struct{}
	childList       struct{ entries []childEntry }
	// describeReq asks an actor for a summary of its state; answered with actorState.
	describeReq struct{}
	actorState  struct {
		state map[string]any
	}
)

// childEntry is a supervisor's record of one child, as /debug/actors shows it.
type childEntry struct {
	Kind, Name string
	PID        *actor.PID
	Mailbox    int
	Restarts   int
	LastError  string
}

// ActorNode is one actor of the live tree of /debug/actors: what its supervisor knows of it
// (kind, name, pid, mailbox depth, restarts, last failure) and the summary of its state it
// gave itself (nil if it did not answer within the deadline, see StateError).
type ActorNode struct {
	Kind       string         `json:"kind"`
	Name       string         `json:"name"`
	PID        string         `json:"pid"`
	Mailbox    int            `json:"mailbox"`
	Restarts   int            `json:"restarts"`
	LastError  string         `json:"last_error"`
	State      map[string]any `json:"state"`
	StateError string         `json:"state_error,omitempty"`
	Children   []ActorNode    `json:"children,omitempty"`
	// ChildrenOmitted counts children not described (more than DebugActorsLimit).
	ChildrenOmitted int `json:"children_omitted,omitempty"`
}

// ActorTree is the /debug/actors body.
type ActorTree struct {
	Actors ActorNode `json:"actors"`
	// Count is the number of actors in the tree, omitted ones included.
	Count int `json:"count"`
}

// Limits of /debug/actors: children described per supervisor, time an actor has to answer,
// and how many are asked at once.
const (
	DebugActorsLimit   = 1000
	debugActorsTimeout = 2 * time.Second
	debugActorsFanout  = 32
)

// supervisorKinds are the kinds that have children to list.
var supervisorKinds = map[string]bool{kindRoot: true, kindViews: true, kindWriters: true, kindHousekeeping: true, kindJobs: true}

// DebugActors walks the live supervision tree (GET /debug/actors): every supervisor is asked
// for its children, every actor for a summary of its own state; an actor that does not answer
// in time is shown with its supervisor's record and a state_error. Only messages are sent.
func (s *Service) DebugActors(ctx context.Context) (ActorTree, error) {
	if err := s.running(); err != nil {
		return ActorTree{}, err
	}
	w := &treeWalker{s: s, sem: make(chan struct{}, debugActorsFanout)}
	root := w.node(ctx, childEntry{Kind: kindRoot, Name: rootName, PID: s.pids.root, Mailbox: 0})
	return ActorTree{Actors: root, Count: w.count}, nil
}

type treeWalker struct {
	s     *Service
	sem   chan struct{}
	mu    sync.Mutex // guards count (the walk's goroutines are the facade's, not actors)
	count int
}

func (w *treeWalker) node(ctx context.Context, e childEntry) ActorNode {
	w.mu.Lock()
	w.count++
	w.mu.Unlock()
	n := ActorNode{Kind: e.Kind, Name: e.Name, PID: e.PID.String(), Mailbox: e.Mailbox, Restarts: e.Restarts, LastError: e.LastError}
	if e.Kind == kindCoordinator {
		n.Mailbox = w.s.coordDepth.len()
	}
	dctx, cancel := context.WithTimeout(ctx, debugActorsTimeout)
	defer cancel()
	if e.Kind == kindScheduler {
		// The link is of package scheduler: it describes itself with its State.
		if st, err := request[*scheduler.State](dctx, w.s.sys.Root, e.PID, &scheduler.StateReq{}); err != nil {
			n.StateError = err.Error()
		} else {
			n.State = map[string]any{"link": st.Link, "snapshot_seq": st.SnapshotSeq, "heartbeating": st.Heartbeating,
				"heartbeats": st.Heartbeats, "registrations": len(st.Registrations), "last_error": st.LastError}
		}
	} else if st, err := request[*actorState](dctx, w.s.sys.Root, e.PID, &describeReq{}); err != nil {
		n.StateError = err.Error()
	} else {
		n.State = st.state
	}
	if !supervisorKinds[e.Kind] {
		return n
	}
	list, err := request[*childList](dctx, w.s.sys.Root, e.PID, &listChildrenReq{})
	if err != nil {
		n.StateError = err.Error()
		return n
	}
	entries := list.entries
	if len(entries) > DebugActorsLimit {
		n.ChildrenOmitted = len(entries) - DebugActorsLimit
		w.mu.Lock()
		w.count += n.ChildrenOmitted
		w.mu.Unlock()
		entries = entries[:DebugActorsLimit]
	}
	n.Children = make([]ActorNode, len(entries))
	var wg sync.WaitGroup
	for i, c := range entries {
		if supervisorKinds[c.Kind] {
			n.Children[i] = w.node(ctx, c) // supervisors are few: walk them in line
			continue
		}
		wg.Add(1)
		w.sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-w.sem }()
			n.Children[i] = w.node(ctx, c)
		}()
	}
	wg.Wait()
	return n
}
