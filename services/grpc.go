package services

import (
	"context"
	"fmt"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	shopv1 "github.com/tuskcompose/composer/proto/shop/v1"
)

// The routes of the built-in services' gRPC APIs (proto/shop/v1), in
// gin's syntax, for a platform's routes.
const (
	UsersGRPCRoute  = "/shop.v1.Users/*method"
	OrdersGRPCRoute = "/shop.v1.Orders/*method"
)

// grpcHandler serves one gRPC service over the HTTP/2 of the gateway (or
// of an in-process call): grpc-go's ServeHTTP, so that the calls take
// the gateway's middleware, metrics and spans like any request. A
// request that is not HTTP/2 gRPC gets grpc-go's own refusal.
func grpcHandler(desc *grpc.ServiceDesc, impl any) http.Handler {
	srv := grpc.NewServer()
	srv.RegisterService(desc, impl)
	return srv
}

// requestID is a gRPC call's X-Request-Id (the gateway sets one).
func requestID(ctx context.Context) string {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-request-id"); len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// usersGRPC is shop.v1.Users over Users.
type usersGRPC struct {
	shopv1.UnimplementedUsersServer
	u *Users
}

func (g usersGRPC) CreateUser(ctx context.Context, req *shopv1.CreateUserRequest) (*shopv1.User, error) {
	user, err := g.u.Create(ctx, requestID(ctx), NewUser{Username: req.GetUsername(), Email: req.GetEmail(), Password: req.GetPassword()})
	if err != nil {
		return nil, GRPCError(err)
	}
	return userPB(user), nil
}

func (g usersGRPC) GetUser(_ context.Context, req *shopv1.GetUserRequest) (*shopv1.User, error) {
	if req.GetId() == 0 {
		return nil, status.Error(codes.InvalidArgument, "id: a user's id")
	}
	user, err := g.u.Get(req.GetId())
	if err != nil {
		return nil, GRPCError(err)
	}
	return userPB(user), nil
}

func userPB(u User) *shopv1.User {
	return &shopv1.User{Id: u.ID, Username: u.Username, Email: u.Email, CreatedAt: timestamppb.New(u.CreatedAt)}
}

// ordersGRPC is shop.v1.Orders over Orders.
type ordersGRPC struct {
	shopv1.UnimplementedOrdersServer
	o *Orders
}

func (g ordersGRPC) CreateOrder(ctx context.Context, req *shopv1.CreateOrderRequest) (*shopv1.Order, error) {
	in := NewOrder{UserID: req.GetUserId(), Items: make([]Item, len(req.GetItems())), Currency: req.GetCurrency()}
	for i, it := range req.GetItems() {
		in.Items[i] = Item{ProductID: ProductID(it.GetProductId()), Quantity: int(it.GetQuantity()), Price: it.GetPrice()}
	}
	order, err := g.o.Create(ctx, requestID(ctx), in)
	if err != nil {
		return nil, GRPCError(err)
	}
	return orderPB(order), nil
}

func (g ordersGRPC) GetOrder(_ context.Context, req *shopv1.GetOrderRequest) (*shopv1.Order, error) {
	if req.GetId() == 0 {
		return nil, status.Error(codes.InvalidArgument, "id: an order's id")
	}
	order, err := g.o.Get(req.GetId())
	if err != nil {
		return nil, GRPCError(err)
	}
	return orderPB(order), nil
}

func (g ordersGRPC) UpdateOrderStatus(ctx context.Context, req *shopv1.UpdateOrderStatusRequest) (*shopv1.Order, error) {
	if req.GetId() == 0 {
		return nil, status.Error(codes.InvalidArgument, "id: an order's id")
	}
	order, err := g.o.SetStatus(ctx, requestID(ctx), req.GetId(), req.GetStatus(), req.GetIfVersion())
	if err != nil {
		return nil, GRPCError(err)
	}
	return orderPB(order), nil
}

func orderPB(o Order) *shopv1.Order {
	out := &shopv1.Order{Id: o.ID, UserId: o.UserID, TotalAmount: o.TotalAmount, Status: o.Status, Currency: o.Currency, Version: o.Version,
		CreatedAt: timestamppb.New(o.CreatedAt), UpdatedAt: timestamppb.New(o.UpdatedAt)}
	for _, it := range o.Items {
		out.Items = append(out.Items, &shopv1.Item{ProductId: string(it.ProductID), Quantity: int32(it.Quantity), Price: it.Price})
	}
	return out
}

// UsersGRPCClient asks the users service over gRPC whether a user exists
// (shop.v1.Users/GetUser): the seed's tonic client. The composer gives
// it a connection to the mesh's listener of the call orders -> users, so
// the call has that pair's breaker, the target's retries and timeouts,
// and its metrics and spans.
type UsersGRPCClient struct {
	Client shopv1.UsersClient
}

// UserExists implements UserChecker: OK is yes, NOT_FOUND no, anything
// else ErrUsersUnavailable.
func (c *UsersGRPCClient) UserExists(ctx context.Context, id uint64) (bool, error) {
	_, err := c.Client.GetUser(ctx, &shopv1.GetUserRequest{Id: id})
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.NotFound:
		return false, nil
	}
	return false, fmt.Errorf("%w: %s", ErrUsersUnavailable, status.Convert(err).Message())
}

// UserEmail implements UserDirectory: the user's address, asked of users
// over gRPC (shop.v1.Users/GetUser).
func (c *UsersGRPCClient) UserEmail(ctx context.Context, id uint64) (string, error) {
	u, err := c.Client.GetUser(ctx, &shopv1.GetUserRequest{Id: id})
	if err != nil {
		return "", fmt.Errorf("the address of user %d: %s", id, status.Convert(err).Message())
	}
	return u.GetEmail(), nil
}
