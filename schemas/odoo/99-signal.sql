-- Debezium signalling table (signal.data.collection=public.debezium_signal), used for ad-hoc and
-- incremental snapshots: INSERT INTO debezium_signal VALUES ('<uuid>', 'execute-snapshot',
-- '{"data-collections": ["public.res_partner"], "type": "incremental"}');
-- It is not an Odoo table. The stack script adds it to the publication and grants the connector
-- user INSERT/SELECT on it.
CREATE TABLE IF NOT EXISTS debezium_signal (
  id varchar(42) PRIMARY KEY,
  type varchar(32) NOT NULL,
  data varchar(2048)
);
