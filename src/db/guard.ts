/**
 * Guards: statements that fail their D1 batch — so nothing of the batch is written — when a
 * condition holds. A batch is one transaction, and a guard placed first checks what the rest of the
 * batch was planned on (the registry, stream tiles, seen event ids) at the moment it commits. SQLite
 * has no RAISE outside triggers: a guard fails by inserting a history row without a feature id
 * (NOT NULL), which no real write ever does.
 */
export function failWhen(db: D1Database, condition: string, ...params: unknown[]): D1PreparedStatement {
  return db.prepare(`INSERT INTO feature_values (feature_id, entity_id, ts, value) SELECT NULL, '', 0, 'null' WHERE ${condition}`).bind(...params);
}
