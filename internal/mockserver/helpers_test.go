package mockserver

import (
	"context"
	"encoding/json"
)

// deliver delivers a command as the command API and batch tasks do (the commands
// backend), without HTTP.
func (s *Server) deliver(ctx context.Context, cmd Command) (json.RawMessage, error) {
	return s.commands.Deliver(ctx, cmd)
}
