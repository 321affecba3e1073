package testutil

import (
	"crypto/sha256"
	"sync"
)

// ResultStore is what a result cache stores into (package resultcache's
// Cache, or a render.ResultCache).
type ResultStore interface {
	Get(key [sha256.Size]byte) ([]byte, bool)
	Put(key [sha256.Size]byte, payload []byte) error
}

// CountingCache is a result cache for tests: it keeps entries in Backing
// when set, in memory otherwise, and counts its hits and stores. It is
// safe for concurrent use.
type CountingCache struct {
	Backing ResultStore

	mu         sync.Mutex
	mem        map[[sha256.Size]byte][]byte
	hits, puts int
}

func (c *CountingCache) Get(k [sha256.Size]byte) ([]byte, bool) {
	var data []byte
	var ok bool
	if c.Backing != nil {
		data, ok = c.Backing.Get(k)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Backing == nil {
		data, ok = c.mem[k]
	}
	if ok {
		c.hits++
	}
	return data, ok
}

func (c *CountingCache) Put(k [sha256.Size]byte, data []byte) error {
	c.mu.Lock()
	c.puts++
	if c.Backing == nil {
		if c.mem == nil {
			c.mem = map[[sha256.Size]byte][]byte{}
		}
		c.mem[k] = data
	}
	c.mu.Unlock()
	if c.Backing != nil {
		return c.Backing.Put(k, data)
	}
	return nil
}

// Hits is the number of Gets that found an entry.
func (c *CountingCache) Hits() int { c.mu.Lock(); defer c.mu.Unlock(); return c.hits }

// Puts is the number of Puts.
func (c *CountingCache) Puts() int { c.mu.Lock(); defer c.mu.Unlock(); return c.puts }

// Len is the number of entries kept in memory (0 with a Backing).
func (c *CountingCache) Len() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.mem) }

// ResetCounts sets the counts of hits and stores back to zero.
func (c *CountingCache) ResetCounts() { c.mu.Lock(); defer c.mu.Unlock(); c.hits, c.puts = 0, 0 }
