module streamgate/bench/go-load-client

go 1.21
