package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// mailboxDepth is a protoactor mailbox middleware that counts the messages waiting in one
// actor's mailbox. It is the mailbox's own instrument (protoactor calls it when a message is
// posted and when it has been processed), read by the actor itself when it describes itself
// for /debug/actors and by the ssp_mailbox_depth gauge; nothing else of the actor is shared.
type mailboxDepth struct {
	n atomic.Int64
}

var _ actor.MailboxMiddleware = (*mailboxDepth)(nil)

// MailboxStarted implements actor.MailboxMiddleware.
func (m *mailboxDepth) MailboxStarted() {}

// MessagePosted implements actor.MailboxMiddleware.
func (m *mailboxDepth) MessagePosted(any) { m.n.Add(1) }

// MessageReceived implements actor.MailboxMiddleware.
func (m *mailboxDepth) MessageReceived(any) { m.n.Add(-1) }

// MailboxEmpty implements actor.MailboxMiddleware.
func (m *mailboxDepth) MailboxEmpty() {}

// len is the number of messages posted and not yet processed (the one being processed
// included).
func (m *mailboxDepth) len() int {
	if m == nil {
		return 0
	}
	return int(m.n.Load())
}

// props are the Props of an actor with a counted, unbounded mailbox.
func props(depth *mailboxDepth, producer actor.Producer, opts ...actor.PropsOption) *actor.Props {
	opts = append(opts, actor.WithMailbox(actor.Unbounded(depth)))
	return actor.PropsFromProducer(producer, opts...)
}
