-- An index.sqlite3 as watcher made it before the index had migrations (commit 4fac3d7:
-- Store.at, then a few feeds, entries, articles, matches, an outbox run with its
-- deliveries, a held alert and learned boilerplate, written through that code), dumped
-- with sqlite3 iterdump. tests/store/test_migrations.py builds a file from it and upgrades
-- it; the articles it names are not needed (they are rewritten from the index).
BEGIN TRANSACTION;
CREATE TABLE alert_articles (
	id INTEGER NOT NULL, 
	rule VARCHAR(200) NOT NULL, 
	article_number INTEGER NOT NULL, 
	state VARCHAR(10) NOT NULL, 
	created DATETIME NOT NULL, 
	run_id INTEGER, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_alert_articles_rule_article UNIQUE (rule, article_number), 
	FOREIGN KEY(run_id) REFERENCES outbox_runs (id)
);
INSERT INTO "alert_articles" VALUES(1,'mi6',1,'held','2026-11-23 07:00:00.000000',NULL);
CREATE TABLE alert_windows (
	rule VARCHAR(200) NOT NULL, 
	last_sent DATETIME NOT NULL, 
	PRIMARY KEY (rule)
);
CREATE TABLE articles (
	number INTEGER NOT NULL, 
	url TEXT NOT NULL, 
	canonical_url TEXT NOT NULL, 
	url_hash VARCHAR(16) NOT NULL, 
	feed VARCHAR(200) NOT NULL, 
	site VARCHAR(255) NOT NULL, 
	entry_id TEXT NOT NULL, 
	title TEXT NOT NULL, 
	description TEXT NOT NULL, 
	body TEXT, 
	author TEXT NOT NULL, 
	language VARCHAR(16), 
	published DATETIME, 
	fetched DATETIME NOT NULL, 
	text_source VARCHAR(10) NOT NULL, 
	file_name TEXT, 
	PRIMARY KEY (number), 
	UNIQUE (canonical_url)
);
INSERT INTO "articles" VALUES(1,'https://news.example/1','https://news.example/1','f1372b7cd058c104','bbc-world','news.example','urn:bbc:1','Story 1','A standfirst.','MI6 chief speaks in Berlin.
Second paragraph.','A. Writer','en','2026-11-23 06:00:00.000000','2026-11-23 07:00:00.000000','page','001_f1372b7cd058c104.txt');
INSERT INTO "articles" VALUES(2,'https://news.example/2','https://news.example/2','508006291f914654','bbc-world','news.example','urn:bbc:2','Story 2','A standfirst.','MI6 chief speaks in Berlin.
Second paragraph.','A. Writer','en','2026-11-23 05:00:00.000000','2026-11-23 07:00:00.000000','page','002_508006291f914654.txt');
CREATE TABLE boilerplate_seen (
	id INTEGER NOT NULL, 
	site VARCHAR(255) NOT NULL, 
	fingerprint VARCHAR(16) NOT NULL, 
	article_key VARCHAR(64) NOT NULL, 
	seen_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_boilerplate_seen UNIQUE (site, fingerprint, article_key)
);
INSERT INTO "boilerplate_seen" VALUES(1,'news.example','0000000000000000','article-0','2026-11-23 07:00:00.000000');
INSERT INTO "boilerplate_seen" VALUES(2,'news.example','0123456789abcdef','article-0','2026-11-23 07:00:00.000000');
INSERT INTO "boilerplate_seen" VALUES(3,'news.example','0000000000000001','article-1','2026-11-23 07:00:00.000000');
INSERT INTO "boilerplate_seen" VALUES(4,'news.example','0123456789abcdef','article-1','2026-11-23 07:00:00.000000');
INSERT INTO "boilerplate_seen" VALUES(5,'news.example','0000000000000002','article-2','2026-11-23 07:00:00.000000');
INSERT INTO "boilerplate_seen" VALUES(6,'news.example','0123456789abcdef','article-2','2026-11-23 07:00:00.000000');
CREATE TABLE entries (
	id INTEGER NOT NULL, 
	feed VARCHAR(200) NOT NULL, 
	entry_id TEXT NOT NULL, 
	url TEXT NOT NULL, 
	canonical_url TEXT NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	first_seen DATETIME NOT NULL, 
	processed_at DATETIME, 
	article_number INTEGER, 
	attempts INTEGER NOT NULL, 
	error TEXT, 
	data JSON, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_entries_feed_entry UNIQUE (feed, entry_id)
);
INSERT INTO "entries" VALUES(1,'bbc-world','urn:bbc:1','https://news.example/1','https://news.example/1','done','2026-11-23 07:00:00.000000','2026-11-23 07:00:00.000000',1,1,NULL,'{"entry_id": "urn:bbc:1", "url": "https://news.example/1", "title": "Story 1", "summary": "summary", "content": "", "published": "2026-11-23T06:00:00+00:00", "author": ""}');
INSERT INTO "entries" VALUES(2,'bbc-world','urn:bbc:2','https://news.example/2','https://news.example/2','done','2026-11-23 07:00:00.000000','2026-11-23 07:00:00.000000',2,1,NULL,'{"entry_id": "urn:bbc:2", "url": "https://news.example/2", "title": "Story 2", "summary": "summary", "content": "", "published": "2026-11-23T05:00:00+00:00", "author": ""}');
INSERT INTO "entries" VALUES(3,'bbc-world','urn:bbc:3','https://news.example/3','https://news.example/3','failed','2026-11-23 07:00:00.000000','2026-11-23 07:00:00.000000',NULL,0,'HTTP 404','{"entry_id": "urn:bbc:3", "url": "https://news.example/3", "title": "Story 3", "summary": "summary", "content": "", "published": "2026-11-23T04:00:00+00:00", "author": ""}');
CREATE TABLE feeds (
	name VARCHAR(200) NOT NULL, 
	config_url TEXT NOT NULL, 
	url TEXT NOT NULL, 
	title TEXT NOT NULL, 
	etag TEXT, 
	last_modified TEXT, 
	status VARCHAR(20) NOT NULL, 
	last_poll DATETIME, 
	last_success DATETIME, 
	last_error TEXT, 
	last_error_at DATETIME, 
	consecutive_failures INTEGER NOT NULL, 
	next_poll DATETIME, 
	polls INTEGER NOT NULL, 
	not_modified INTEGER NOT NULL, 
	entries_seen INTEGER NOT NULL, 
	articles_stored INTEGER NOT NULL, 
	matches INTEGER NOT NULL, 
	notice TEXT, 
	notice_sent BOOLEAN NOT NULL, 
	PRIMARY KEY (name)
);
INSERT INTO "feeds" VALUES('bbc-world','https://feeds.example/bbc.rss','https://feeds.example/bbc.rss','BBC World','"abc"','Mon, 23 Nov 2026 06:00:00 GMT','ok','2026-11-23 07:00:00.000000','2026-11-23 07:00:00.000000',NULL,NULL,0,'2026-11-23 07:15:00.000000',3,0,3,2,1,NULL,1);
INSERT INTO "feeds" VALUES('guardian','https://feeds.example/guardian.rss','https://feeds.example/guardian.rss','',NULL,NULL,'failing',NULL,NULL,'HTTP 503','2026-11-23 07:00:00.000000',5,NULL,0,0,0,0,0,'failing after 5 attempts: HTTP 503',1);
CREATE TABLE matches (
	id INTEGER NOT NULL, 
	article_number INTEGER NOT NULL, 
	rule VARCHAR(200) NOT NULL, 
	hits JSON NOT NULL, 
	matched_at DATETIME NOT NULL, 
	origin VARCHAR(10) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_matches_article_rule UNIQUE (article_number, rule), 
	FOREIGN KEY(article_number) REFERENCES articles (number)
);
INSERT INTO "matches" VALUES(1,1,'mi6','[["body", 0, 3, "MI6"]]','2026-11-23 07:00:00.000000','live');
CREATE TABLE meta (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "meta" VALUES('schema_version','1');
CREATE TABLE outbox_deliveries (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	channel VARCHAR(200) NOT NULL, 
	state VARCHAR(10) NOT NULL, 
	attempts INTEGER NOT NULL, 
	parts_done INTEGER NOT NULL, 
	next_attempt DATETIME NOT NULL, 
	claimed_at DATETIME, 
	last_error TEXT, 
	sent_id TEXT, 
	sent_at DATETIME, 
	updated DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_outbox_deliveries_run_channel UNIQUE (run_id, channel), 
	FOREIGN KEY(run_id) REFERENCES outbox_runs (id)
);
INSERT INTO "outbox_deliveries" VALUES(1,1,'mail','pending',0,0,'2026-11-23 07:00:00.000000',NULL,NULL,NULL,NULL,'2026-11-23 07:00:00.000000');
INSERT INTO "outbox_deliveries" VALUES(2,1,'archive','sent',1,0,'2026-11-23 07:00:00.000000',NULL,NULL,'digest-morning-2026-11-23','2026-11-23 07:00:00.000000','2026-11-23 07:00:00.000000');
CREATE TABLE outbox_runs (
	id INTEGER NOT NULL, 
	"key" VARCHAR(300) NOT NULL, 
	kind VARCHAR(10) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	since DATETIME NOT NULL, 
	cutoff DATETIME NOT NULL, 
	created DATETIME NOT NULL, 
	item_count INTEGER NOT NULL, 
	payload JSON NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE ("key")
);
INSERT INTO "outbox_runs" VALUES(1,'digest:morning@2026-11-23T06:00:00+00:00','digest','morning','2026-11-22 07:00:00.000000','2026-11-23 07:00:00.000000','2026-11-23 07:00:00.000000',1,'{"kind": "digest", "name": "morning", "items": [1]}');
CREATE TABLE site_lengths (
	id INTEGER NOT NULL, 
	site VARCHAR(255) NOT NULL, 
	article_key VARCHAR(64) NOT NULL, 
	chars INTEGER NOT NULL, 
	seen_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_site_lengths UNIQUE (site, article_key)
);
INSERT INTO "site_lengths" VALUES(1,'news.example','article-0',1200,'2026-11-23 07:00:00.000000');
INSERT INTO "site_lengths" VALUES(2,'news.example','article-1',1201,'2026-11-23 07:00:00.000000');
INSERT INTO "site_lengths" VALUES(3,'news.example','article-2',1202,'2026-11-23 07:00:00.000000');
CREATE INDEX ix_entries_state ON entries (state);
CREATE INDEX ix_entries_canonical ON entries (canonical_url);
CREATE INDEX ix_articles_fetched ON articles (fetched);
CREATE INDEX ix_articles_feed ON articles (feed);
CREATE INDEX ix_boilerplate_seen_lookup ON boilerplate_seen (site, fingerprint, seen_at, article_key);
CREATE INDEX ix_boilerplate_seen_site_time ON boilerplate_seen (site, seen_at);
CREATE INDEX ix_site_lengths_site_time ON site_lengths (site, seen_at);
CREATE INDEX ix_outbox_runs_kind_name ON outbox_runs (kind, name);
CREATE INDEX ix_matches_matched_at ON matches (matched_at);
CREATE INDEX ix_outbox_deliveries_due ON outbox_deliveries (state, next_attempt);
CREATE INDEX ix_alert_articles_state ON alert_articles (state);
COMMIT;
