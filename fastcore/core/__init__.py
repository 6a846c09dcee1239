"""What no Apache module owns: the connection, the request, mapping, static delivery,
errors, the server a child runs, and the records they share."""
