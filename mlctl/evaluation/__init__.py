"""Zero-shot XTREME evaluation of any encoder checkpoint (``run_xtreme_tasks.py`` is the command line over it):
task table and fine-tuning defaults (`tasks`), data readers (`readers`), BUCC mining and its threshold (`bucc`),
fine-tuning (`finetune`), reports (`report`), the t-SNE picture (`plots`) and one run (`xtreme`)."""
from mlctl.evaluation.tasks import FineTuningSettings
from mlctl.evaluation.tasks import MissingDataError
from mlctl.evaluation.xtreme import RunInterrupted
from mlctl.evaluation.xtreme import XtremeArguments
from mlctl.evaluation.xtreme import incomplete_tasks
from mlctl.evaluation.xtreme import run_xtreme

__all__ = ["FineTuningSettings", "MissingDataError", "RunInterrupted", "XtremeArguments", "incomplete_tasks",
           "run_xtreme"]
