package sspproc

// MetaSQL is the part of Sp00ky's meta schema (reference notes: reference-server.md §4.1,
// reference-newest.md §1.3) the SSP meets in production: `_00_query`, the global `_00_list_ref`
// (with its READONLY updatedAt) and `_00_version` with its unique index.
const MetaSQL = `DEFINE TABLE OVERWRITE _00_query SCHEMALESS PERMISSIONS FOR select, create, update WHERE true;
DEFINE FIELD OVERWRITE surql ON TABLE _00_query TYPE option<string>;
DEFINE FIELD OVERWRITE clientId ON TABLE _00_query TYPE option<string>;
DEFINE FIELD OVERWRITE lastActiveAt ON TABLE _00_query TYPE datetime DEFAULT time::now();
DEFINE FIELD OVERWRITE ttl ON TABLE _00_query TYPE duration;
DEFINE TABLE OVERWRITE _00_list_ref SCHEMALESS PERMISSIONS FOR select WHERE auth_id = <string>$auth.id;
DEFINE FIELD OVERWRITE in ON TABLE _00_list_ref TYPE record;
DEFINE FIELD OVERWRITE out ON TABLE _00_list_ref TYPE record;
DEFINE FIELD OVERWRITE clientId ON TABLE _00_list_ref TYPE string;
DEFINE FIELD OVERWRITE auth_id ON TABLE _00_list_ref TYPE string DEFAULT '';
DEFINE FIELD OVERWRITE version ON TABLE _00_list_ref TYPE int;
DEFINE FIELD OVERWRITE updatedAt ON TABLE _00_list_ref TYPE datetime VALUE time::now() READONLY;
DEFINE FIELD OVERWRITE parent ON TABLE _00_list_ref TYPE option<record<_00_list_ref>>;
DEFINE FIELD OVERWRITE parent_rel ON TABLE _00_list_ref TYPE option<string>;
DEFINE TABLE OVERWRITE _00_version SCHEMALESS PERMISSIONS FOR select WHERE true;
DEFINE FIELD OVERWRITE record_id ON TABLE _00_version TYPE record;
DEFINE FIELD OVERWRITE version ON TABLE _00_version TYPE int;
DEFINE INDEX OVERWRITE idx_record_id ON TABLE _00_version COLUMNS record_id UNIQUE;
`
