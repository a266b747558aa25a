package actors

import (
	"context"
	"sync"

	"github.com/sp00ky/ssp/surreal/membership"
)

// userTables remembers which per-user list_ref tables this process defined, so that the DDL
// runs once per process per user (SPEC §2.2) although registrations, user sign-ups and the
// table's writer all need the table. Definitions and removals of one user are serialized;
// other users' run at the same time.
type userTables struct {
	db membership.Querier

	mu    sync.Mutex
	users map[string]*userTable
}

type userTable struct {
	mu      sync.Mutex
	defined bool // this process defined the table and did not remove it since
}

func newUserTables(db membership.Querier) *userTables {
	return &userTables{db: db, users: map[string]*userTable{}}
}

func (u *userTables) get(uid string) *userTable {
	u.mu.Lock()
	defer u.mu.Unlock()
	t := u.users[uid]
	if t == nil {
		t = &userTable{}
		u.users[uid] = t
	}
	return t
}

// ensure defines the table of uid unless this process did already.
func (u *userTables) ensure(ctx context.Context, uid string) error {
	t := u.get(uid)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.defined {
		return nil
	}
	if err := membership.DefineUserTable(ctx, u.db, uid); err != nil {
		return err
	}
	t.defined = true
	return nil
}

// remove removes the table of uid; the next ensure defines it again.
func (u *userTables) remove(ctx context.Context, uid string) error {
	t := u.get(uid)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.defined = false
	return membership.RemoveUserTable(ctx, u.db, uid)
}
