#include "rpc/poll_standby.h"

#include "gtest/gtest.h"

namespace tether {
namespace {

class CountingStandby final : public PollStandby {
 public:
  void StepAside() override { ++stepped_aside; }
  int stepped_aside = 0;
};

TEST(PollStandbyTest, NoteTaskEventCountsEvents) {
  const uint64_t before = TaskEventCount();
  NoteTaskEvent();
  NoteTaskEvent();
  EXPECT_EQ(TaskEventCount(), before + 2);
}

TEST(PollStandbyTest, AStandingStandbyStepsAsideOncePerScope) {
  CountingStandby standby;
  {
    PollStandby::Standing standing(&standby);
    NoteTaskEvent();
    EXPECT_EQ(standby.stepped_aside, 1);
    NoteTaskEvent();
    EXPECT_EQ(standby.stepped_aside, 1);
  }
  {
    PollStandby::Standing standing(&standby);
    NoteTaskEvent();
    EXPECT_EQ(standby.stepped_aside, 2);
  }
}

TEST(PollStandbyTest, AStandbyThatLeftIsNotSteppedAside) {
  CountingStandby standby;
  { PollStandby::Standing standing(&standby); }
  NoteTaskEvent();
  EXPECT_EQ(standby.stepped_aside, 0);
}

TEST(PollStandbyTest, EveryStandingStandbyStepsAside) {
  CountingStandby first;
  CountingStandby second;
  PollStandby::Standing first_standing(&first);
  PollStandby::Standing second_standing(&second);
  NoteTaskEvent();
  EXPECT_EQ(first.stepped_aside, 1);
  EXPECT_EQ(second.stepped_aside, 1);
}

}  // namespace
}  // namespace tether
