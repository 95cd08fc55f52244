CREATE TABLE feature_values (feature_id integer NOT NULL, entity_id text NOT NULL, ts integer NOT NULL, value text NOT NULL, PRIMARY KEY (feature_id, entity_id, ts));
CREATE TABLE feature_latest (feature_id integer NOT NULL, entity_id text NOT NULL, ts integer NOT NULL, value text NOT NULL, PRIMARY KEY (feature_id, entity_id));
