// Command etcd is etcd's server, built from the pinned go.etcd.io/etcd/server/v3
// module so that the integration tests need no downloaded release archive.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
