"""Developer tools: throwaway servers for tests and the bench. Never shipped in the wheel."""
