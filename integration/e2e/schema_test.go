package e2e

import (
	"fmt"
	"strings"

	"github.com/sp00ky/ssp/internal/sspproc"
)

// field is one declared field of a workload table.
type field struct {
	name, typ string
	// text marks record and datetime fields: Sp00ky's events send them as `<string>` text.
	text bool
}

// tableSpec is one workload table with its declared fields.
type tableSpec struct {
	name   string
	fields []field
}

// schema is the workload's tables: users, their threads and the threads' comments.
var schema = []tableSpec{
	{"user", []field{
		{"name", "string", false}, {"age", "int", false}, {"active", "bool", false}, {"tags", "array<string>", false},
	}},
	{"thread", []field{
		{"title", "string", false}, {"author", "record<user>", true}, {"score", "int", false},
		{"tags", "array<string>", false}, {"created", "datetime", true},
	}},
	{"comment", []field{
		{"thread", "record<thread>", true}, {"author", "record<user>", true}, {"body", "string", false},
		{"score", "int", false}, {"created", "datetime", true},
	}},
}

// metaSQL is Sp00ky's meta schema (package sspproc).
const metaSQL = sspproc.MetaSQL

// schemaSQL defines Sp00ky's meta tables (metaSQL), the workload tables and, for every one, the
// mutation and delete events Sp00ky's CLI generates, posting to endpoint + "/ingest" with the
// bearer secret. With access set, the user table lets a record user select only their own row,
// and a record access method `account` signs users up by name.
func schemaSQL(endpoint string, access bool) string {
	var b strings.Builder
	b.WriteString(metaSQL)
	for _, t := range schema {
		perms := "PERMISSIONS NONE"
		if t.name == "user" && access {
			perms = "PERMISSIONS FOR select WHERE id = $auth.id, FOR create, update, delete NONE"
		}
		fmt.Fprintf(&b, "DEFINE TABLE OVERWRITE %s SCHEMAFULL %s;\n", t.name, perms)
		for _, f := range t.fields {
			fmt.Fprintf(&b, "DEFINE FIELD OVERWRITE %s ON TABLE %s TYPE %s;\n", f.name, t.name, f.typ)
		}
		b.WriteString(eventsSQL(t, endpoint))
	}
	if access {
		b.WriteString(`DEFINE ACCESS OVERWRITE account ON DATABASE TYPE RECORD
	SIGNUP (CREATE user SET name = $name, age = 30, active = true, tags = [])
	SIGNIN (SELECT * FROM user WHERE name = $name)
	DURATION FOR SESSION 1h;
`)
	}
	return b.String()
}

// eventsSQL renders the two events of table t the way Sp00ky's CLI does (reference notes
// reference-server.md §4.2): on CREATE/UPDATE bump `_00_version` (CREATE … version = 1, or
// version += 1), build the plain row (record and datetime fields as `<string>`, plus `_00_rv`
// read back from `_00_version`) and `http::post` {table, op, id, record, hash} to /ingest; on
// DELETE drop the `_00_version` row and post the row as it was.
func eventsSQL(t tableSpec, endpoint string) string {
	plain := func(v string, rv bool) string {
		parts := []string{fmt.Sprintf(`id: <string>(%s.id OR "")`, v)}
		for _, f := range t.fields {
			if f.text {
				parts = append(parts, fmt.Sprintf(`%s: <string>(%s.%s OR "")`, f.name, v, f.name))
			} else {
				parts = append(parts, fmt.Sprintf(`%s: %s.%s`, f.name, v, f.name))
			}
		}
		if rv {
			parts = append(parts, `_00_rv: (SELECT VALUE version FROM ONLY _00_version WHERE record_id = $after.id)`)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	post := fmt.Sprintf(`http::post('%s/ingest', $payload, { "Authorization": "Bearer %s" });`, endpoint, secret)
	return fmt.Sprintf(`DEFINE EVENT OVERWRITE _00_%[1]s_mutation ON TABLE %[1]s WHEN $before != $after AND $event != "DELETE" THEN {
	LET $sp00ky_ver_rec = IF $event = "CREATE" {
		(CREATE _00_version SET record_id = $after.id, version = 1 RETURN AFTER)
	} ELSE {
		(UPDATE _00_version SET version += 1 WHERE record_id = $after.id RETURN AFTER)
	};
	LET $sp00ky_ver = $sp00ky_ver_rec[0].version;
	LET $plain_after = %[2]s;
	LET $payload = { table: '%[1]s', op: $event, id: <string>($after.id OR ""), record: $plain_after, hash: "" };
	%[4]s
};
DEFINE EVENT OVERWRITE _00_%[1]s_delete ON TABLE %[1]s WHEN $event = "DELETE" THEN {
	DELETE _00_version WHERE record_id = $before.id;
	LET $plain_before = %[3]s;
	LET $payload = { table: '%[1]s', op: "DELETE", id: <string>($before.id OR ""), record: $plain_before, hash: "" };
	%[4]s
};
`, t.name, plain("$after", true), plain("$before", false), post)
}
