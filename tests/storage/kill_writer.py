"""Child process for the kill test: commits numbered rows forever, printing each after its commit."""

import sys

from ota_provider.core.storage.database import Database

db = Database(sys.argv[1])
with db.transaction() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS journal (n INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
start = (db.query("SELECT COALESCE(MAX(n), 0) FROM journal")[0][0] or 0) + 1
n = start
while True:
    with db.transaction() as cursor:
        cursor.execute("INSERT INTO journal (n, payload) VALUES (?, ?)", (n, bytes(n % 251) * 40))
        cursor.execute(
            "INSERT INTO counters (name, value) VALUES ('rows', ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (n,),
        )
    print(n, flush=True)
    n += 1
