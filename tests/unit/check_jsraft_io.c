/*
 * tests/unit/check_jsraft_io.c — unit tests of cluster/jsraft_io.c, the
 * raft_io wrapper that decides when raft sees a vote request: held after a
 * restart, held while this member's promise to its leader runs, handed
 * over marked "disrupt leader" once an election timeout has passed, and
 * every other message passed at once.
 *
 * Under the wrapper is a fake libuv io whose clock the test sets; above it
 * a struct raft whose public state (role, leader, election timer) the test
 * sets as raft would, and raft's callbacks are recorders.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "cluster/jsraft_io.h"

#define ET 1000
#define LEADER 1
#define CAND_A 2
#define CAND_B 3

/* ---- the fake libuv io below the wrapper ---- */

static raft_time fake_now;
static raft_io_tick_cb fake_tick; /* the wrapper's, to drive it */
static raft_io_recv_cb fake_recv;

static raft_time fake_time(struct raft_io *io)
{
    (void)io;
    return fake_now;
}

static int fake_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                      raft_io_recv_cb recv)
{
    (void)io;
    (void)msecs;
    fake_tick = tick;
    fake_recv = recv;
    return 0;
}

#define MAX_SENT 16
static struct raft_message sent[MAX_SENT];
static int nsent;

static int fake_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
                     raft_io_send_cb cb)
{
    (void)io;
    ck_assert_int_lt(nsent, MAX_SENT);
    sent[nsent++] = *m;
    cb(req, 0); /* written at once */
    return 0;
}

/* ---- raft's side: recorders ---- */

#define MAX_SEEN 16
static struct raft_message seen[MAX_SEEN];
static char seen_addr[MAX_SEEN][JSRAFT_IO_ADDR_MAX];
static int nseen;
static int nticks;

static void raft_tick(struct raft_io *io)
{
    (void)io;
    nticks++;
}

static void raft_recv(struct raft_io *io, struct raft_message *msg)
{
    (void)io;
    ck_assert_int_lt(nseen, MAX_SEEN);
    seen[nseen] = *msg;
    snprintf(seen_addr[nseen], sizeof seen_addr[nseen], "%s",
             msg->server_address ? msg->server_address : "");
    nseen++;
}

static struct raft_io uv;
static struct jsraft_io g;
static struct raft raft;

/* A follower of LEADER that last heard from it at contact. */
static void follow(raft_time contact)
{
    raft.state = RAFT_FOLLOWER;
    raft.follower_state.current_leader.id = LEADER;
    raft.election_timer_start = contact;
}

static void setup(void)
{
    memset(&uv, 0, sizeof uv);
    memset(&raft, 0, sizeof raft);
    uv.time = fake_time;
    uv.start = fake_start;
    uv.send = fake_send;
    nsent = 0;
    fake_now = 10000;
    nseen = nticks = 0;
    jsraft_io_init(&g, &uv);
    raft.election_timeout = ET;
    jsraft_io_watch(&g, &raft);
    ck_assert_int_eq(g.io.start(&g.io, 100, raft_tick, raft_recv), 0);
    ck_assert_ptr_nonnull(fake_tick);
    follow(fake_now);
}

static void vote_request(raft_id from, raft_term term, bool disrupt)
{
    struct raft_message m = { .type = RAFT_IO_REQUEST_VOTE,
                              .server_id = from,
                              .server_address = from == CAND_A ? "node-a" : "node-b" };
    m.request_vote = (struct raft_request_vote){ .term = term, .candidate_id = from,
                                                 .last_log_index = 7, .last_log_term = 2,
                                                 .disrupt_leader = disrupt };
    fake_recv(&uv, &m);
}

static void tick_at(raft_time now)
{
    fake_now = now;
    fake_tick(&uv);
}

START_TEST(a_vote_request_waits_out_the_promise_then_passes_the_leader)
{
    raft_time contact = fake_now;
    fake_now = contact + 400; /* the leader died; a candidate stands */
    vote_request(CAND_A, 5, false);
    ck_assert_int_eq(nseen, 0);
    tick_at(contact + ET - 1);
    ck_assert_int_eq(nseen, 0);
    ck_assert_int_eq(nticks, 1);
    tick_at(contact + ET); /* the promise is kept: hand it over first */
    ck_assert_int_eq(nseen, 1);
    ck_assert_int_eq(nticks, 2);
    ck_assert_int_eq(seen[0].type, RAFT_IO_REQUEST_VOTE);
    ck_assert(seen[0].request_vote.disrupt_leader);
    ck_assert_uint_eq(seen[0].request_vote.term, 5);
    ck_assert_uint_eq(seen[0].request_vote.candidate_id, CAND_A);
    ck_assert_uint_eq(seen[0].request_vote.last_log_index, 7);
    ck_assert_str_eq(seen_addr[0], "node-a");
    ck_assert_uint_eq(g.votes_passed_leader, 1);
}
END_TEST

START_TEST(a_request_after_the_timeout_passes_at_once_marked)
{
    fake_now += ET + 5;
    vote_request(CAND_A, 5, false);
    ck_assert_int_eq(nseen, 1);
    ck_assert(seen[0].request_vote.disrupt_leader);
}
END_TEST

START_TEST(the_poll_hands_it_over_too)
{
    raft_time contact = fake_now;
    vote_request(CAND_A, 5, false);
    fake_now = contact + ET / 2;
    ck_assert_int_eq(jsraft_io_release_votes(&g), 0);
    fake_now = contact + ET;
    ck_assert_int_eq(jsraft_io_release_votes(&g), 1);
    ck_assert_int_eq(nseen, 1);
    ck_assert_int_eq(jsraft_io_release_votes(&g), 0); /* handed over once */
}
END_TEST

START_TEST(a_heartbeat_restarts_the_wait)
{
    raft_time t0 = fake_now;
    vote_request(CAND_A, 5, false);
    follow(t0 + 600); /* the leader is alive after all */
    tick_at(t0 + ET);
    ck_assert_int_eq(nseen, 0);
    /* Still silenced while heartbeats come: after two timeouts the request
     * is dropped, not granted when the leader dies much later. */
    follow(t0 + 1500);
    tick_at(t0 + 2 * ET + 1);
    ck_assert_int_eq(nseen, 0);
    tick_at(t0 + 1500 + ET); /* the leader went silent at t0 + 1500 */
    ck_assert_int_eq(nseen, 0);
    ck_assert_int_eq(nticks, 3);
}
END_TEST

START_TEST(a_transfer_is_never_held)
{
    vote_request(CAND_A, 5, true);
    ck_assert_int_eq(nseen, 1);
    ck_assert(seen[0].request_vote.disrupt_leader);
    ck_assert_uint_eq(g.votes_passed_leader, 0);
}
END_TEST

START_TEST(without_a_leader_a_request_passes_unmarked)
{
    raft.state = RAFT_CANDIDATE;
    raft.follower_state.current_leader.id = 0;
    vote_request(CAND_A, 5, false);
    ck_assert_int_eq(nseen, 1);
    ck_assert(!seen[0].request_vote.disrupt_leader);
}
END_TEST

START_TEST(other_messages_pass_at_once)
{
    struct raft_message m = { .type = RAFT_IO_APPEND_ENTRIES, .server_id = LEADER,
                              .server_address = "leader" };
    m.append_entries.term = 4;
    fake_recv(&uv, &m);
    ck_assert_int_eq(nseen, 1);
    ck_assert_int_eq(seen[0].type, RAFT_IO_APPEND_ENTRIES);
}
END_TEST

START_TEST(after_a_restart_every_request_waits)
{
    raft.state = RAFT_FOLLOWER;
    raft.follower_state.current_leader.id = 0; /* forgotten with the crash */
    jsraft_io_hold_votes(&g, ET);
    raft_time start = fake_now;
    fake_now = start + 10;
    vote_request(CAND_A, 5, false);
    vote_request(CAND_A, 6, false); /* the newest of a candidate is kept */
    vote_request(CAND_B, 6, false);
    tick_at(start + ET - 1);
    ck_assert_int_eq(nseen, 0);
    tick_at(start + ET);
    ck_assert_int_eq(nseen, 2);
    ck_assert_uint_eq(seen[0].request_vote.term, 6);
    ck_assert_uint_eq(seen[0].request_vote.candidate_id, CAND_A);
    ck_assert_uint_eq(seen[1].request_vote.candidate_id, CAND_B);
    ck_assert(!seen[0].request_vote.disrupt_leader);
    ck_assert_uint_eq(g.votes_held, 3);
}
END_TEST

/* raft stand-in that grants the first request it sees: its timer restarts
 * and it follows nobody yet, but still names the old leader (0.15 keeps
 * current_leader across a term bump while following). */
static void raft_recv_grants(struct raft_io *io, struct raft_message *msg)
{
    raft_recv(io, msg);
    raft.election_timer_start = fake_now;
}

START_TEST(a_granted_vote_makes_the_next_candidate_wait)
{
    raft.election_timer_start = fake_now;
    g.recv = raft_recv_grants;
    raft_time contact = fake_now;
    fake_now = contact + 100;
    vote_request(CAND_A, 5, false);
    vote_request(CAND_B, 5, false);
    tick_at(contact + ET);
    ck_assert_int_eq(nseen, 1);
    ck_assert_uint_eq(seen[0].request_vote.candidate_id, CAND_A);
    tick_at(contact + ET + 50);
    ck_assert_int_eq(nseen, 1);
}
END_TEST

START_TEST(a_repeated_request_for_the_vote_given_passes)
{
    /* Granted in term 5 at t; the candidate did not hear the answer and
     * asks again: the same vote, answered at once. */
    raft.current_term = 5;
    raft.voted_for = CAND_A;
    raft.election_timer_start = fake_now;
    fake_now += 100;
    vote_request(CAND_A, 5, false);
    ck_assert_int_eq(nseen, 1);
    ck_assert(seen[0].request_vote.disrupt_leader);
    vote_request(CAND_B, 5, false); /* another candidate waits */
    ck_assert_int_eq(nseen, 1);
}
END_TEST

static void sent_cb(struct raft_io_send *req, int status)
{
    (void)req;
    (void)status;
}

START_TEST(a_candidate_asks_again_until_answered)
{
    raft.state = RAFT_CANDIDATE;
    raft.current_term = 5;
    struct raft_io_send req;
    struct raft_message m = { .type = RAFT_IO_REQUEST_VOTE, .server_id = CAND_B,
                              .server_address = "node-b" };
    m.request_vote = (struct raft_request_vote){ .term = 5, .candidate_id = CAND_A };
    raft_time t0 = fake_now;
    ck_assert_int_eq(g.io.send(&g.io, &req, &m, sent_cb), 0);
    ck_assert_int_eq(nsent, 1);
    tick_at(t0 + JSRAFT_IO_RESEND_MS - 1);
    ck_assert_int_eq(nsent, 1);
    tick_at(t0 + JSRAFT_IO_RESEND_MS); /* unanswered: again */
    ck_assert_int_eq(nsent, 2);
    ck_assert_int_eq(sent[1].type, RAFT_IO_REQUEST_VOTE);
    ck_assert_uint_eq(sent[1].server_id, CAND_B);
    ck_assert_str_eq(sent[1].server_address, "node-b");
    ck_assert_uint_eq(sent[1].request_vote.term, 5);
    tick_at(t0 + 2 * JSRAFT_IO_RESEND_MS);
    ck_assert_int_eq(nsent, 3);
    struct raft_message ans = { .type = RAFT_IO_REQUEST_VOTE_RESULT, .server_id = CAND_B,
                                .server_address = "node-b" };
    ans.request_vote_result.term = 5;
    fake_recv(&uv, &ans); /* answered (granted or not): no more */
    ck_assert_int_eq(nseen, 1);
    tick_at(t0 + 5 * JSRAFT_IO_RESEND_MS);
    ck_assert_int_eq(nsent, 3);
    ck_assert_uint_eq(g.votes_resent, 2);
}
END_TEST

START_TEST(a_new_term_or_role_ends_the_asking)
{
    raft.state = RAFT_CANDIDATE;
    raft.current_term = 5;
    struct raft_io_send req;
    struct raft_message m = { .type = RAFT_IO_REQUEST_VOTE, .server_id = CAND_B,
                              .server_address = "node-b" };
    m.request_vote = (struct raft_request_vote){ .term = 5, .candidate_id = CAND_A };
    raft_time t0 = fake_now;
    ck_assert_int_eq(g.io.send(&g.io, &req, &m, sent_cb), 0);
    raft.current_term = 6; /* its timer ran out: a new election */
    tick_at(t0 + 3 * JSRAFT_IO_RESEND_MS);
    ck_assert_int_eq(nsent, 1);
    ck_assert_int_eq(g.io.send(&g.io, &req, &m, sent_cb), 0);
    raft.state = RAFT_LEADER; /* won without that vote */
    tick_at(t0 + 6 * JSRAFT_IO_RESEND_MS);
    ck_assert_int_eq(nsent, 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jsraft_io");
    TCase *tc = tcase_create("votes");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, a_vote_request_waits_out_the_promise_then_passes_the_leader);
    tcase_add_test(tc, a_request_after_the_timeout_passes_at_once_marked);
    tcase_add_test(tc, the_poll_hands_it_over_too);
    tcase_add_test(tc, a_heartbeat_restarts_the_wait);
    tcase_add_test(tc, a_transfer_is_never_held);
    tcase_add_test(tc, without_a_leader_a_request_passes_unmarked);
    tcase_add_test(tc, other_messages_pass_at_once);
    tcase_add_test(tc, after_a_restart_every_request_waits);
    tcase_add_test(tc, a_granted_vote_makes_the_next_candidate_wait);
    tcase_add_test(tc, a_repeated_request_for_the_vote_given_passes);
    tcase_add_test(tc, a_candidate_asks_again_until_answered);
    tcase_add_test(tc, a_new_term_or_role_ends_the_asking);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
