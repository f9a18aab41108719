package limits

// Tracked is how many numbers a Memory limiter keeps buckets for.
func Tracked(l *Memory) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.numbers)
}
