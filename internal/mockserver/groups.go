package mockserver

// AddGroup registers a device group. The id must not be in use: a group whose id is taken
// is refused as such (registry.ErrExists) before its contents are checked.
func (s *Server) AddGroup(g Group) error { return s.registry.AddGroup(g) }

// RemoveGroup unregisters a device group. It reports whether the group existed. Tasks
// already created keep the members they resolved.
func (s *Server) RemoveGroup(id string) bool { return s.registry.RemoveGroup(id) }

// Groups returns a copy of the device groups, sorted by id.
func (s *Server) Groups() []Group { return s.registry.Groups() }
