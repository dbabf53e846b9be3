package main

import "sync"

// condition is a fact that becomes true once and stays true: an app
// started, the first failure seen, the pod asked to stop. Waiters select on
// Done instead of polling or sleeping.
type condition struct {
	once sync.Once
	ch   chan struct{}
}

func newCondition() *condition { return &condition{ch: make(chan struct{})} }

// Set makes the condition true; later calls do nothing.
func (c *condition) Set() { c.once.Do(func() { close(c.ch) }) }

// Done is closed once the condition holds.
func (c *condition) Done() <-chan struct{} { return c.ch }

// IsSet reports whether the condition holds.
func (c *condition) IsSet() bool {
	select {
	case <-c.ch:
		return true
	default:
		return false
	}
}

// allOf returns a condition that holds once every one of conds holds.
func allOf(conds ...*condition) *condition {
	all := newCondition()
	go func() {
		for _, c := range conds {
			<-c.Done()
		}
		all.Set()
	}()
	return all
}
