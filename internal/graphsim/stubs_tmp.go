package graphsim

func notYet() *apiError { return errf(501, "NotImplemented", "not implemented in graphsim yet") }

func (s *Server) listEvents(r *request, v []string) (*response, *apiError)   { return nil, notYet() }
func (s *Server) createEvent(r *request, v []string) (*response, *apiError)  { return nil, notYet() }
func (s *Server) getEvent(r *request, v []string) (*response, *apiError)     { return nil, notYet() }
func (s *Server) patchEvent(r *request, v []string) (*response, *apiError)   { return nil, notYet() }
func (s *Server) deleteEvent(r *request, v []string) (*response, *apiError)  { return nil, notYet() }
func (s *Server) calendarView(r *request, v []string) (*response, *apiError) { return nil, notYet() }
func (s *Server) putGroupTeam(r *request, v []string) (*response, *apiError) { return nil, notYet() }
func (s *Server) getTeam(r *request, v []string) (*response, *apiError)      { return nil, notYet() }
func (s *Server) resolveEducation(r *request) (*route, *apiError)            { return nil, notYet() }
func (s *Server) resolveTeams(r *request) (*route, *apiError)                { return nil, notYet() }
