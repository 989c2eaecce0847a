// Dashboard charts (Chart.js, served by the app). Each chart reads its data from the JSON block
// #report-data, written by the server from the same figures as the tables beside it; no inline script.
(function () {
  "use strict";

  const TONES = {
    main: "#0b5d5b",
    late: "#c2410c",
    ok: "#5fa8a3",
    muted: "#b8c4c2",
  };
  const PALETTE = ["#0b5d5b", "#d98e04", "#2e6f9e", "#8c5e9f", "#c2410c", "#5fa8a3"];

  function locale() {
    return document.documentElement.lang === "en" ? "en-GB" : "id-ID";
  }

  function number(value, percent) {
    if (value === null || value === undefined) {
      return "–";
    }
    const text = new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(value);
    return percent ? text + "%" : text;
  }

  function barChart(canvas, spec, rows) {
    const horizontal = rows > 4 || spec.percent;
    const datasets = spec.series.map((serie, i) => ({
      label: serie.label,
      data: serie.data,
      backgroundColor: TONES[serie.tone] || (i === 0 ? TONES.main : PALETTE[i % PALETTE.length]),
      borderRadius: 3,
      maxBarThickness: 28,
    }));
    const valueAxis = {
      beginAtZero: true,
      stacked: Boolean(spec.stacked),
      max: spec.percent ? 100 : undefined,
      ticks: { callback: (v) => number(v, spec.percent), precision: 0 },
      grid: { color: "#e9ecef" },
    };
    const labelAxis = { stacked: Boolean(spec.stacked), grid: { display: false }, ticks: { autoSkip: false } };
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        animation: false,
        scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: (ctx) => ctx.dataset.label + ": " + number(ctx.raw, spec.percent),
            },
          },
        },
      },
    });
  }

  function doughnutChart(canvas, spec) {
    return new window.Chart(canvas, {
      type: "doughnut",
      data: {
        labels: spec.labels,
        datasets: [{ data: spec.series[0].data, backgroundColor: PALETTE, borderWidth: 1 }],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { label: (ctx) => ctx.label + ": " + number(ctx.raw, false) } },
        },
      },
    });
  }

  function sizeFor(box, spec) {
    // Horizontal bar charts grow with their rows (two-line labels need more) so every label is readable.
    const rows = spec.labels.length;
    if (box.dataset.kind === "bar" && (rows > 4 || spec.percent)) {
      const perRow = spec.labels.some(Array.isArray) ? 38 : 26;
      box.style.height = Math.max(160, perRow * rows + 70) + "px";
    }
  }

  function draw() {
    const source = document.getElementById("report-data");
    if (!source || !window.Chart) {
      return;
    }
    const data = JSON.parse(source.textContent);
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.color = "#495057";
    if (window.matchMedia("(max-width: 599.98px)").matches) {
      window.Chart.defaults.font.size = 11;
    }
    document.querySelectorAll("[data-chart]").forEach((box) => {
      const spec = data[box.dataset.chart];
      const canvas = box.querySelector("canvas");
      if (!spec || !canvas) {
        return;
      }
      const rows = spec.labels.length;
      if (rows === 0) {
        box.classList.add("d-none");
        return;
      }
      sizeFor(box, spec);
      if (box.dataset.kind === "doughnut") {
        doughnutChart(canvas, spec);
      } else {
        barChart(canvas, spec, rows);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    draw();
    document.querySelectorAll("[data-action='print']").forEach((button) => {
      button.addEventListener("click", () => window.print());
    });
  });
})();
