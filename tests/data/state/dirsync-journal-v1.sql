PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE dirsync_objects (
	pair VARCHAR NOT NULL, 
	anchor VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	target_id VARCHAR NOT NULL, 
	source_entry TEXT, 
	applied TEXT, 
	disabled_at DATETIME, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (pair, anchor)
);
INSERT INTO dirsync_objects VALUES('ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2','a-1','user','t-1','{"attributes": {"uid": ["ann"]}, "dn": "uid=ann,ou=Staff,dc=old,dc=example", "kind": "user"}','{"active": true, "user_name": "ann@new.example"}',NULL,'2026-12-02 06:24:43.590051');
INSERT INTO dirsync_objects VALUES('ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2','a-2','user','t-2','{"attributes": {"uid": ["bob"]}, "dn": "uid=bob,ou=Staff,dc=old,dc=example", "kind": "user"}','{"active": false, "user_name": "bob@new.example"}','2026-11-30 08:15:00.000000','2026-12-02 06:24:43.590051');
INSERT INTO dirsync_objects VALUES('ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2','g-1','group','t-3',NULL,'{"display_name": "staff", "members": ["t-1"]}',NULL,'2026-12-02 06:24:43.590051');
CREATE TABLE dirsync_marks (
	pair VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	value VARCHAR NOT NULL, 
	PRIMARY KEY (pair, name)
);
INSERT INTO dirsync_marks VALUES('ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2','high_water','20261201060000.000000Z#000000#000#000000');
INSERT INTO dirsync_marks VALUES('ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2','last_full','2026-12-01T06:00:00.123456');
INSERT INTO dirsync_marks VALUES('ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2','attributes','cn,mail,uid');
CREATE TABLE dirsync_journal (
	id INTEGER NOT NULL, 
	pair VARCHAR NOT NULL, 
	run_id VARCHAR NOT NULL, 
	at DATETIME NOT NULL, 
	action VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	anchor VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	target_id VARCHAR NOT NULL, 
	reason TEXT NOT NULL, 
	"before" TEXT, 
	"after" TEXT, 
	ok BOOLEAN NOT NULL, 
	error TEXT, 
	PRIMARY KEY (id)
);
INSERT INTO dirsync_journal VALUES(1,'ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2','run1','2026-12-02 06:24:43.593530','create','user','a-1','ann@new.example','t-1','new in source',NULL,'{"user_name": "ann@new.example"}',1,NULL);
INSERT INTO dirsync_journal VALUES(2,'ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2','run1','2026-12-02 06:24:43.593530','disable','user','a-2','bob@new.example','t-2','left scope','{"active": true}','{"active": false}',1,NULL);
INSERT INTO dirsync_journal VALUES(3,'ldap://127.0.0.1:389|dc=old,dc=example|scim+http://127.0.0.1:8080/v2','run1','2026-12-02 06:24:43.593530','create','group','g-1','staff','','new in source',NULL,NULL,0,'409 uniqueness');
CREATE INDEX ix_dirsync_journal_pair ON dirsync_journal (pair);
COMMIT;
