FROM golang:1.19-alpine3.16 AS builder
RUN apk add git gcc musl-dev
WORKDIR /go/src/worker
COPY . .
RUN go build -o /worker .

FROM alpine:3.12
RUN apk add ca-certificates curl openssl
COPY --from=builder /worker /usr/local/bin/worker
ENTRYPOINT ["worker"]
