"""Every label attnbook's figures draw themselves, in English and Japanese.

Keys name what the text says; ``{name}`` fields are filled with data (token,
layer id, model name) that stays the same in every language, or with another
message (then translated too). The Japanese follows the book's glossary
(``docs/glossary.md``) and counts layers and heads from 0 like the English.
"""

from __future__ import annotations

__all__ = ["MESSAGES"]

_ZERO = "（0 始まり）"

MESSAGES: dict[str, dict[str, str]] = {
    # --- shared -------------------------------------------------------------
    "query": {"en": "query", "ja": "クエリ"},
    "key": {"en": "key", "ja": "キー"},
    "value": {"en": "value", "ja": "値"},
    "attention_weight": {"en": "attention weight", "ja": "アテンションの重み"},
    "layer_n": {"en": "layer {layer}", "ja": "層 {layer}"},
    "head_n": {"en": "head {head}", "ja": "ヘッド {head}"},
    "layer_0_indexed": {"en": "layer (0-indexed)", "ja": "層" + _ZERO},
    "layer_head": {
        "en": "layer {layer}, head {head} (0-indexed)",
        "ja": "層 {layer}・ヘッド {head}" + _ZERO,
    },
    "model_layer_head": {
        "en": "{model} — layer {layer}, head {head} (0-indexed)",
        "ja": "{model} — 層 {layer}・ヘッド {head}" + _ZERO,
    },
    "model_layer_head_from": {
        "en": "{model} — layer {layer}, head {head} (0-indexed), from “{query}”",
        "ja": "{model} — 層 {layer}・ヘッド {head}" + _ZERO + "、「{query}」から",
    },
    # --- maps: heatmap, head grid, layer profile, line view -----------------
    "key_attended_to": {"en": "key (attended to)", "ja": "キー（注意を向けられる側）"},
    "query_attending": {"en": "query (attending)", "ja": "クエリ（注意を向ける側）"},
    "every_head": {
        "en": "{model}: every head (layers and heads 0-indexed; rows = queries, columns = keys)",
        "ja": "{model}：すべてのヘッド（層とヘッドは 0 始まり、行 = クエリ、列 = キー）",
    },
    "word_occurrence": {
        "en": "{word} (occurrence {occurrence})",
        "ja": "{word}（出現番号 {occurrence}）",
    },
    "max_over_heads": {"en": "{label}: max over heads", "ja": "{label}：ヘッドの中の最大値"},
    "mean_over_heads": {"en": "{label}: mean over heads", "ja": "{label}：ヘッドの平均"},
    "attention_weight_from": {
        "en": "attention weight from “{query}”",
        "ja": "「{query}」からのアテンションの重み",
    },
    "attention_from_by_layer": {
        "en": "{model}: attention from “{query}”, layer by layer",
        "ja": "{model}：「{query}」からのアテンション（層ごと）",
    },
    # --- analysis: head statistics, entropy, three views ---------------------
    "stat_mean": {"en": "{label}: mean", "ja": "{label}：平均"},
    "stat_to_cls": {"en": "to [CLS]", "ja": "[CLS] へ"},
    "stat_to_sep": {"en": "to [SEP]", "ja": "[SEP] へ"},
    "stat_to_punct": {"en": "to punctuation", "ja": "句読点へ"},
    "stat_to_other": {"en": "to other tokens", "ja": "その他のトークンへ"},
    "stat_entropy": {"en": "entropy (nats)", "ja": "エントロピー（ナット）"},
    "stat_uniform_entropy": {
        "en": "uniform entropy (nats)",
        "ja": "一様なアテンションのエントロピー（ナット）",
    },
    "stat_mean_distance": {"en": "mean distance (tokens)", "ja": "平均距離（トークン数）"},
    "stat_prev": {"en": "to previous token", "ja": "直前のトークンへ"},
    "stat_next": {"en": "to next token", "ja": "直後のトークンへ"},
    "layer_dots_heads": {
        "en": "layer (0-indexed); dots = heads",
        "ja": "層" + _ZERO + "、点 = ヘッド",
    },
    "average_attention": {"en": "average attention", "ja": "アテンションの平均"},
    "where_attention_goes": {
        "en": "Where each head's attention goes, layer by layer",
        "ja": "各ヘッドのアテンションの行き先（層ごと）",
    },
    "mean_over_heads_plain": {"en": "mean over heads", "ja": "ヘッドの平均"},
    "uniform_attention": {"en": "uniform attention", "ja": "一様なアテンション"},
    "entropy_per_head": {
        "en": "Attention entropy per head",
        "ja": "ヘッドごとのアテンションのエントロピー",
    },
    "raw_attention_head_mean": {
        "en": "raw attention (head mean)",
        "ja": "生のアテンション（ヘッドの平均）",
    },
    "norm_based": {"en": "norm-based ‖αf(x)‖", "ja": "ノルムに基づく ‖αf(x)‖"},
    "rollout_layers": {"en": "rollout, layers 0–{last}", "ja": "ロールアウト（層 0–{last}）"},
    "rollout_layer_0": {"en": "rollout, layer 0", "ja": "ロールアウト（層 0）"},
    "share_of_row": {"en": "share of the row", "ja": "行の中の割合"},
    "three_views": {
        "en": "{model}: layer {layer} (0-indexed), three views",
        "ja": "{model}：層 {layer}" + _ZERO + "を 3 通りの方法で見る",
    },
    # --- mechanism: softmax saturation, variance, gradient -------------------
    "score_at_position": {
        "en": "score {score} (position {position})",
        "ja": "スコア {score}（位置 {position}）",
    },
    "scale_factor": {
        "en": "scale factor applied to the scores (log scale)",
        "ja": "スコアに掛ける倍率（対数目盛）",
    },
    "softmax_weight": {"en": "softmax weight", "ja": "ソフトマックスの重み"},
    "softmax_times_scale": {
        "en": "softmax([{scores}] × scale)",
        "ja": "softmax([{scores}] × 倍率)",
    },
    "theory_var_dk": {"en": "theory: var = d_k", "ja": "理論値：分散 = d_k"},
    "measured_qk": {"en": "measured: q·k", "ja": "測定値：q·k"},
    "theory_var_1": {"en": "theory: var = 1", "ja": "理論値：分散 = 1"},
    "measured_qk_scaled": {"en": "measured: q·k / √d_k", "ja": "測定値：q·k / √d_k"},
    "dk_dimension_log": {
        "en": "d_k (dimension of queries and keys, log scale)",
        "ja": "d_k（クエリとキーの次元数、対数目盛）",
    },
    "score_variance_log": {
        "en": "variance of the score (log scale)",
        "ja": "スコアの分散（対数目盛）",
    },
    "variance_title": {
        "en": "Variance of q·k for random unit-variance vectors ({n} pairs each)",
        "ja": "分散 1 のランダムなベクトルどうしの q·k の分散（各 {n} 組）",
    },
    "qk_unscaled": {"en": "q·k (unscaled)", "ja": "q·k（スケーリングなし）"},
    "qk_scaled": {"en": "q·k / √d_k (scaled)", "ja": "q·k / √d_k（スケーリングあり）"},
    "uniform_log": {"en": "uniform: log {n}", "ja": "一様：log {n}"},
    "weights_entropy": {
        "en": "entropy of the weights (nats)",
        "ja": "重みのエントロピー（ナット）",
    },
    "how_spread": {
        "en": "How spread out the attention weights are",
        "ja": "アテンションの重みの広がり",
    },
    "jacobian_norm": {
        "en": "‖∂ softmax / ∂ scores‖ (Frobenius norm)",
        "ja": "‖∂ softmax / ∂ スコア‖（フロベニウスノルム）",
    },
    "how_responsive": {
        "en": "How much the weights respond to the scores",
        "ja": "スコアの変化に重みがどれだけ応えるか",
    },
    "dk_log": {"en": "d_k (log scale)", "ja": "d_k（対数目盛）"},
    "softmax_random_keys": {
        "en": "Softmax over {keys} random keys, mean of {queries} queries",
        "ja": "ランダムな {keys} 個のキーに対するソフトマックス（{queries} 個のクエリの平均）",
    },
    # --- matrix and mixture (Part I pictures) --------------------------------
    "key_looked_at": {"en": "key (looked at)", "ja": "キー（見られる側）"},
    "query_looking": {"en": "query (looking)", "ja": "クエリ（見る側）"},
    "key_with_weight": {"en": "{key} (weight {weight})", "ja": "{key}（重み {weight}）"},
    "value_dimension": {"en": "value dimension", "ja": "バリューの次元"},
    "weight_times_value": {"en": "weight × value (stacked)", "ja": "重み × バリュー（積み上げ）"},
    # --- word order ----------------------------------------------------------
    "position_relative": {
        "en": "position relative to {anchor} (in units; negative = before {anchor})",
        "ja": "{anchor} からの相対位置（単位の数、負 = {anchor} より前）",
    },
    "where_arguments_sit": {
        "en": "Where the arguments sit relative to {anchor}",
        "ja": "{anchor} から見た項の位置",
    },
    # --- toy grammar ---------------------------------------------------------
    "subject": {"en": "subject", "ja": "主語"},
    "object": {"en": "object", "ja": "目的語"},
    "group_relation_head": {
        "en": "{group} {relation}: layer {layer}, head {head}",
        "ja": "{group} {relation}：層 {layer}・ヘッド {head}",
    },
    "group_relation_offset": {
        "en": "{group} {relation}: best fixed offset ({offset})",
        "ja": "{group} {relation}：最良の固定オフセット（{offset}）",
    },
    "training_step": {"en": "training step", "ja": "学習ステップ"},
    "accuracy_argmax_verb": {
        "en": "accuracy (argmax of the verb's row)",
        "ja": "正解率（動詞の行で重みが最大の語で判定）",
    },
    "step_n": {"en": "step {step}", "ja": "ステップ {step}"},
    "row_of_verb": {
        "en": "row of 「{verb}」, layer {layer}, head {head} (0-indexed)",
        "ja": "「{verb}」の行、層 {layer}・ヘッド {head}" + _ZERO,
    },
    "masked_cells": {"en": "hidden by the mask", "ja": "マスクで見えない"},
    # --- architecture: the encoder and decoder buildings --------------------
    "arch_encoder": {"en": "encoder", "ja": "エンコーダー"},
    "arch_decoder": {"en": "decoder", "ja": "デコーダー"},
    "arch_self_attention": {"en": "self-attention", "ja": "自己注意"},
    "arch_causal_self_attention": {"en": "causal self-attention", "ja": "因果的自己注意"},
    "arch_cross_attention": {"en": "cross-attention", "ja": "クロスアテンション"},
    "arch_feed_forward": {"en": "feed-forward", "ja": "フィードフォワード"},
    "arch_source_tokens": {"en": "source tokens", "ja": "入力側のトークン"},
    "arch_target_so_far": {"en": "target tokens so far", "ja": "ここまでの出力トークン"},
    "arch_next_token": {"en": "next token", "ja": "次のトークン"},
    "arch_keys_values": {"en": "keys and values", "ja": "キーとバリュー"},
    # --- induction heads (toy decoder) ----------------------------------------
    "score_mean_attention": {
        "en": "score (mean attention weight)",
        "ja": "スコア（アテンションの重みの平均）",
    },
    "loss_nats": {"en": "loss (nats)", "ja": "損失（ナット）"},
    "seed_previous_head": {
        "en": "seed {seed}: layer {layer}, head {head}, previous token",
        "ja": "シード {seed}：層 {layer}・ヘッド {head}、直前トークン",
    },
    "seed_induction_head": {
        "en": "seed {seed}: layer {layer}, head {head}, prefix matching",
        "ja": "シード {seed}：層 {layer}・ヘッド {head}、プレフィックス一致",
    },
    "seed_first_occurrence": {
        "en": "seed {seed}: first occurrence",
        "ja": "シード {seed}：1 回目の出現",
    },
    "seed_second_occurrence": {
        "en": "seed {seed}: second occurrence",
        "ja": "シード {seed}：2 回目の出現",
    },
    "threshold_value": {"en": "threshold {value}", "ja": "しきい値 {value}"},
    # --- encoder-decoders: cross-attention ---------------------------------------
    "source_key": {"en": "source token (key)", "ja": "入力側のトークン（キー）"},
    "target_query": {"en": "target token (query)", "ja": "出力側のトークン（クエリ）"},
    "source_word_key": {"en": "source word (key)", "ja": "入力側の単語（キー）"},
    "target_word_query": {"en": "target word (query)", "ja": "出力側の単語（クエリ）"},
    "model_cross_layer_head": {
        "en": "{model} — cross-attention, layer {layer}, head {head} (0-indexed)",
        "ja": "{model} — クロスアテンション、層 {layer}・ヘッド {head}" + _ZERO,
    },
}
