-- A Message DB 1.3 compatible event store schema, written for protean-admin's tests,
-- demo and benchmark from the facts in docs/protean-compatibility.md §1.
-- Idempotent: safe to run on a database that already has it.

CREATE SCHEMA IF NOT EXISTS message_store;

-- The category of a stream: the part of its name before the first '-'.
CREATE OR REPLACE FUNCTION message_store.category(stream_name varchar)
RETURNS varchar AS $$
  SELECT split_part(stream_name, '-', 1);
$$ LANGUAGE sql IMMUTABLE;

CREATE OR REPLACE FUNCTION message_store.hash_64(value varchar)
RETURNS bigint AS $$
  SELECT left('x' || md5(value), 17)::bit(64)::bigint;
$$ LANGUAGE sql IMMUTABLE;

CREATE TABLE IF NOT EXISTS message_store.messages (
  global_position bigserial NOT NULL,
  position bigint NOT NULL,
  time timestamp WITHOUT TIME ZONE DEFAULT (now() AT TIME ZONE 'utc') NOT NULL,
  stream_name text NOT NULL,
  type text NOT NULL,
  data jsonb,
  metadata jsonb,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  CONSTRAINT messages_pkey PRIMARY KEY (global_position)
);

CREATE UNIQUE INDEX IF NOT EXISTS messages_id ON message_store.messages (id);

CREATE UNIQUE INDEX IF NOT EXISTS messages_stream
  ON message_store.messages (stream_name, position);

CREATE INDEX IF NOT EXISTS messages_category
  ON message_store.messages (
    message_store.category(stream_name),
    global_position,
    message_store.category(metadata->>'correlationStreamName'));

-- Appends one message to a stream, as Message DB's write_message does: the stream's next
-- position, an advisory lock on the category so that rows of one category commit in
-- global_position order, and an optional expected version (-1: the stream is empty).
CREATE OR REPLACE FUNCTION message_store.write_message(
  _id varchar,
  _stream_name varchar,
  _type varchar,
  _data jsonb,
  _metadata jsonb DEFAULT NULL,
  _expected_version bigint DEFAULT NULL)
RETURNS bigint AS $$
DECLARE
  _next_position bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(
    message_store.hash_64(message_store.category(_stream_name)));
  SELECT coalesce(max(position), -1) + 1 INTO _next_position
    FROM message_store.messages WHERE stream_name = _stream_name;
  IF _expected_version IS NOT NULL AND _expected_version <> _next_position - 1 THEN
    RAISE EXCEPTION 'Wrong expected version: % (Stream: %, Stream Version: %)',
      _expected_version, _stream_name, _next_position - 1;
  END IF;
  INSERT INTO message_store.messages (id, stream_name, position, type, data, metadata)
    VALUES (_id::uuid, _stream_name, _next_position, _type, _data, _metadata);
  RETURN _next_position;
END;
$$ LANGUAGE plpgsql VOLATILE;
