"""ML-CTL for transformers: `MLCTLConfig`, the models, and the contrastive losses.

Importing this package registers the ML-CTL classes with transformers' Auto classes, so that
`AutoModel.from_pretrained(path)` works for an ML-CTL checkpoint without `trust_remote_code`, and marks them
for `register_for_auto_class`, so that `save_pretrained` ships this code with the checkpoint (the checkpoint then
loads with `trust_remote_code=True` in a process that never imported mlctl).
"""
import transformers
from transformers import AutoConfig

from . import modeling_mlctl
from .configuration_mlctl import MLCTLConfig
from .losses import MLCTLContrastiveLoss
from .losses import cross_lingual_similarity_logits
from .losses import cz_nce_loss
from .losses import gather_with_grad
from .losses import info_nce_loss
from .losses import symmetric_contrastive_loss
from .losses import with_sentence_term
from .modeling_mlctl import MLCTLForPreTraining
from .modeling_mlctl import MLCTLForSequenceClassification
from .modeling_mlctl import MLCTLForTokenClassification
from .modeling_mlctl import MLCTLModel
from .modeling_mlctl import MLCTLPreTrainedModel
from .outputs_mlctl import MLCTLForPreTrainingOutput
from .outputs_mlctl import MLCTLModelOutput
from .pooling import avg_first_last_pool
from .pooling import masked_mean

AutoConfig.register(MLCTLConfig.model_type, MLCTLConfig, exist_ok=True)
MLCTLConfig.register_for_auto_class()
for _auto_name, _target in modeling_mlctl.AUTO_MAP.items():  # the one table of Auto class -> ML-CTL class
    if _auto_name != "AutoConfig":
        _model_class = getattr(modeling_mlctl, _target.rpartition(".")[2])
        getattr(transformers, _auto_name).register(MLCTLConfig, _model_class, exist_ok=True)
        _model_class.register_for_auto_class(_auto_name)

__all__ = [
    "MLCTLConfig",
    *modeling_mlctl.__all__,
    "MLCTLContrastiveLoss",
    "cross_lingual_similarity_logits",
    "cz_nce_loss",
    "info_nce_loss",
    "symmetric_contrastive_loss",
    "with_sentence_term",
    "gather_with_grad",
    "avg_first_last_pool",
    "masked_mean",
]
