package services

import (
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Problem is why a built-in service refused an operation or could not
// do it. Its kind decides the answer: the HTTP status of the JSON
// routes and the code of the gRPC API, so that both say the same.
type Problem struct {
	Kind ProblemKind
	Msg  string
}

func (p *Problem) Error() string { return p.Msg }

// ProblemKind is a kind of Problem.
type ProblemKind int

// The kinds of problem, with their HTTP status and gRPC code.
const (
	Invalid       ProblemKind = iota // 400, INVALID_ARGUMENT: a field is not valid
	NotFound                         // 404, NOT_FOUND
	Taken                            // 409, ALREADY_EXISTS: a username or email in use
	NotAllowed                       // 409, FAILED_PRECONDITION: a status change the order's status does not allow
	Unprocessable                    // 422, FAILED_PRECONDITION: it refers to what does not exist (an order's user)
	TooLarge                         // 413, RESOURCE_EXHAUSTED
	Stale                            // 412, ABORTED: a change of a version the entity is no longer at
	Unavailable                      // 503, UNAVAILABLE: a service it needs cannot be asked
	Internal                         // 500, INTERNAL
)

var kinds = [...]struct {
	status int
	code   codes.Code
}{
	Invalid: {http.StatusBadRequest, codes.InvalidArgument}, NotFound: {http.StatusNotFound, codes.NotFound},
	Taken: {http.StatusConflict, codes.AlreadyExists}, NotAllowed: {http.StatusConflict, codes.FailedPrecondition},
	Unprocessable: {http.StatusUnprocessableEntity, codes.FailedPrecondition}, TooLarge: {http.StatusRequestEntityTooLarge, codes.ResourceExhausted},
	Unavailable: {http.StatusServiceUnavailable, codes.Unavailable}, Internal: {http.StatusInternalServerError, codes.Internal},
	Stale: {http.StatusPreconditionFailed, codes.Aborted},
}

func problem(kind ProblemKind, format string, args ...any) error {
	return &Problem{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// kindOf is an error's kind; an error that is not a Problem is Internal.
func kindOf(err error) (ProblemKind, string) {
	var p *Problem
	if errors.As(err, &p) {
		return p.Kind, p.Msg
	}
	return Internal, err.Error()
}

// HTTPStatus is the HTTP status of an operation's error.
func HTTPStatus(err error) int {
	k, _ := kindOf(err)
	return kinds[k].status
}

// GRPCError is an operation's error as a gRPC status.
func GRPCError(err error) error {
	k, msg := kindOf(err)
	return status.Error(kinds[k].code, msg)
}
