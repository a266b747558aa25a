package e2e

import "strings"

// The list_ref layout of SPEC §2.2, written out here rather than taken from the SSP's own
// packages so that the oracle does not share the code it checks.

// refMode is SPKY_SSP_REF_MODE.
type refMode string

const (
	dedicated refMode = "dedicated"
	single    refMode = "single"
)

const (
	globalTable     = "_00_list_ref"
	userTablePrefix = "_00_list_ref_user_"
	queryTable      = "_00_query"
)

// validName reports whether s is non-empty and only [A-Za-z0-9_].
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// userUID returns the uid of an owner `user:<uid>` when it may name a per-user table.
func userUID(authID string) (string, bool) {
	uid := strings.TrimPrefix(authID, "user:")
	return uid, validName(uid)
}

// userTable is the per-user list_ref table of uid.
func userTable(uid string) string { return userTablePrefix + uid }

// tableFor is the list_ref table of the edges of a view owned by authID.
func tableFor(mode refMode, authID string) string {
	if mode == single {
		return globalTable
	}
	if uid, ok := userUID(authID); ok {
		return userTable(uid)
	}
	return globalTable
}
