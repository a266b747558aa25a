package e2e

import "github.com/sp00ky/ssp/internal/sspproc"

// The list_ref layout of SPEC §2.2 (package sspproc writes it out without the SSP's own code).

// refMode is SPKY_SSP_REF_MODE.
type refMode = sspproc.RefMode

const (
	dedicated = sspproc.Dedicated
	single    = sspproc.Single

	globalTable     = sspproc.GlobalTable
	userTablePrefix = sspproc.UserTablePrefix
	queryTable      = sspproc.QueryTable
)

var (
	validName = sspproc.ValidName
	userUID   = sspproc.UserUID
	userTable = sspproc.UserTable
	tableFor  = sspproc.TableFor
)

// The edge checker (package sspproc).
type (
	mkey     = sspproc.Member
	snapshot = sspproc.Snapshot
)

var (
	readEdges     = sspproc.ReadEdges
	listRefTables = sspproc.ListRefTables
	diffEdges     = sspproc.DiffEdges
	rowsText      = sspproc.RowsText
	diffLines     = sspproc.DiffLines
	head          = sspproc.Head
)
