package services

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/internal/tracing"
	shopv1 "github.com/tuskcompose/composer/proto/shop/v1"
)

// User is a user as the users service answers it (never with the password).
type User struct {
	ID        uint64    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

// credentials are what users keeps of a user beside the user, and never
// puts in an event (nor derives from one): the password's hash.
type credentials struct {
	PasswordHash []byte `json:"password_hash"`
}

// moveCredentials takes the password hashes that users of an older
// release kept in the user entities into the credentials.
func moveCredentials(tx *store.Tx) error {
	var old []uint64
	err := tx.List("users", func(id uint64, data []byte) error {
		if bytes.Contains(data, []byte(`"password_hash"`)) {
			old = append(old, id)
		}
		return nil
	})
	for _, id := range old {
		var u struct {
			User
			credentials
		}
		if _, err := tx.Get("users", id, &u); err != nil {
			return err
		}
		if err := tx.Put("credentials", id, u.credentials); err != nil {
			return err
		}
		if err := tx.Put("users", id, u.User); err != nil {
			return err
		}
	}
	return err
}

// The event types the users service publishes.
const EventUserCreated = "user.created"

// Users is the users service: POST /users, GET /users/:id.
type Users struct {
	store *store.Store
	now   func() time.Time
	// cost is bcrypt's work factor (tests lower it).
	cost int
}

// NewUsers returns the users service on a store.
func NewUsers(s *store.Store) *Users {
	return &Users{store: s, now: time.Now, cost: bcrypt.DefaultCost}
}

// Register adds the service's routes to r.
func (u *Users) Register(r gin.IRouter) {
	r.POST("/users", u.create)
	r.GET("/users/:id", u.get)
	r.GET("/health", health)
	r.Any(UsersGRPCRoute, gin.WrapH(grpcHandler(&shopv1.Users_ServiceDesc, usersGRPC{u: u})))
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,32}$`)

// NewUser is what a user is created with.
type NewUser struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (u *Users) create(c *gin.Context) {
	var req NewUser
	if !decodeJSON(c, &req) {
		return
	}
	user, err := u.Create(c.Request.Context(), c.GetHeader("X-Request-Id"), req)
	answer(c, http.StatusCreated, user, err)
}

// Create validates and stores a user, and emits user.created in the same
// transaction; requestID becomes the event's correlation id. Its errors
// are Problems: Invalid, Taken, Unavailable (no store node), Internal.
func (u *Users) Create(ctx context.Context, requestID string, req NewUser) (User, error) {
	var problems []string
	if !usernamePattern.MatchString(req.Username) {
		problems = append(problems, "username: 3 to 32 letters, digits, '.', '_' or '-'")
	}
	if addr, err := mail.ParseAddress(req.Email); err != nil || addr.Address != req.Email || !strings.Contains(req.Email, ".") {
		problems = append(problems, "email: a valid address such as ada@example.com")
	}
	if len(req.Password) < 8 || len(req.Password) > 72 {
		problems = append(problems, "password: 8 to 72 characters")
	}
	if len(problems) > 0 {
		return User{}, problem(Invalid, "%s", strings.Join(problems, "; "))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), u.cost)
	if err != nil {
		return User{}, problem(Internal, "cannot hash the password")
	}
	var user User
	err = u.store.Update(func(tx *store.Tx) error {
		taken, err := u.taken(tx, req.Username, req.Email)
		if err != nil || taken != "" {
			return errConflict(taken)
		}
		id, err := tx.NextID("users")
		if err != nil {
			return err
		}
		user = User{ID: id, Username: req.Username, Email: req.Email, CreatedAt: u.now().UTC()}
		data, _ := json.Marshal(user)
		e, err := tx.Emit(store.Event{
			Type: EventUserCreated, Source: "/services/users", Subject: strconv.FormatUint(id, 10), Data: data,
			CorrelationID: requestID, TraceParent: tracing.TraceParent(ctx), AggregateType: "user", AggregateVersion: 1, DataSchema: SchemaUserCreated,
		})
		if err != nil {
			return err
		}
		// The user and the indexes that keep usernames and emails
		// unique, as the event makes them.
		if err := Apply(tx, e); err != nil {
			return err
		}
		return tx.Put("credentials", id, credentials{PasswordHash: hash})
	})
	var conflict errConflict
	switch {
	case errors.As(err, &conflict):
		return User{}, problem(Taken, "%s is already taken", string(conflict))
	case errors.Is(err, store.ErrNoNode):
		return User{}, problem(Unavailable, "%s", err.Error())
	case err != nil:
		return User{}, problem(Internal, "cannot store the user")
	}
	return user, nil
}

// errConflict names the field whose value is taken.
type errConflict string

func (e errConflict) Error() string { return string(e) + " is taken" }

func (u *Users) taken(tx *store.Tx, username, email string) (string, error) {
	if _, ok, err := tx.GetIndex("users_by_name", strings.ToLower(username)); err != nil || ok {
		return "username", err
	}
	if _, ok, err := tx.GetIndex("users_by_email", strings.ToLower(email)); err != nil || ok {
		return "email", err
	}
	return "", nil
}

func (u *Users) get(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	user, err := u.Get(id)
	answer(c, http.StatusOK, user, err)
}

// Get returns the user with the id; NotFound when there is none.
func (u *Users) Get(id uint64) (User, error) {
	var user User
	found, err := u.store.Get("users", id, &user)
	switch {
	case err != nil:
		return User{}, problem(Internal, "cannot read the user")
	case !found:
		return User{}, problem(NotFound, "no user %d", id)
	}
	return user, nil
}

// answer writes an operation's result: v with status, or its error as
// a JSON error with the error's HTTP status.
func answer(c *gin.Context, status int, v any, err error) {
	if err != nil {
		writeError(c, HTTPStatus(err), err.Error())
		return
	}
	c.JSON(status, v)
}

// health answers the health checks of a built-in service.
func health(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// decodeJSON reads the request body into v, strictly; on a problem it
// answers 400 and returns false.
func decodeJSON(c *gin.Context, v any) bool {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(c, http.StatusRequestEntityTooLarge, "request body too large")
			return false
		}
		writeError(c, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(c, http.StatusBadRequest, "malformed JSON body: more than one value")
		return false
	}
	return true
}

// pathID reads the :id parameter; on a bad one it answers 400.
func pathID(c *gin.Context) (uint64, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || id == 0 {
		writeError(c, http.StatusBadRequest, fmt.Sprintf("%q is not an id", c.Param("id")))
		return 0, false
	}
	return id, true
}

// writeError answers a JSON error: {"error": msg, "request_id": id}.
func writeError(c *gin.Context, status int, msg string) {
	c.JSON(status, gin.H{"error": msg, "request_id": c.GetHeader("X-Request-Id")})
}
