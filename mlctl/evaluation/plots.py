"""The paper's Figure 3: t-SNE of word embeddings, one colour per meaning, one marker per language."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from data_prep.reading import read_line_aligned
from mlctl.encoding import encode_sentences
from mlctl.evaluation.tasks import MissingDataError


def read_word_lists(directory: Path, languages: list[str], n_words: int) -> list[list[str]]:
    """``n_words`` meanings present in every ``{lang}_uni.txt`` (line i is one meaning in each language)."""
    paths = [directory / f"{lang}_uni.txt" for lang in languages]
    for path in paths:
        if not path.is_file():
            raise MissingDataError(f"tsne: no word list {path}")
    rows = [list(row) for row in read_line_aligned(*paths) if all(word.strip() for word in row)]
    return rows[:n_words]


def draw_tsne(models: dict, tokenizer, word_rows: list[list[str]], languages: list[str], layer: int, path: Path,
              seed: int = 42) -> dict[str, np.ndarray]:
    """The paper's Figure 3: t-SNE of word embeddings, one colour per meaning, one marker per language; one panel
    per model of `models` ({title: model}, e.g. before and after training), side by side.

    Each word is encoded alone (`encode_sentences`, mean of ``hidden_states[layer]`` over its tokens). Returns the
    2-D points of each panel, row ``meaning * len(languages) + language``, and writes a PNG to ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    words = [word for row in word_rows for word in row]
    perplexity = float(min(30, max(2, len(words) // 4), len(words) - 1))
    figure, all_axes = plt.subplots(1, len(models), figsize=(8 * len(models), 8), squeeze=False)
    colours = plt.get_cmap("tab20")
    markers = "osD^v<>p*hX"
    panels = {}
    for axes, (title, model) in zip(all_axes[0], models.items()):
        embeddings = encode_sentences(model, tokenizer, words, pooling="mean", layer=layer, show_progress=False)
        points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(embeddings)
        panels[title] = points
        for meaning, row in enumerate(word_rows):
            for lang_index, word in enumerate(row):
                x, y = points[meaning * len(languages) + lang_index]
                axes.scatter(x, y, color=colours(meaning % 20), marker=markers[lang_index % len(markers)], s=60)
                axes.annotate(word, (x, y), fontsize=7, alpha=0.8)
        for lang_index, lang in enumerate(languages):
            axes.scatter([], [], color="grey", marker=markers[lang_index % len(markers)], label=lang)
        axes.legend(title="language", loc="best")
        axes.set_title(f"{title}: t-SNE of word embeddings, hidden_states[{layer}]; colour = meaning")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return panels
