"""Azure Storage: clients, the `analyses` table (jobs, admission, its row keys) and the
write-once blobs."""
