// The preset background pictures, drawn with Canvas 2D at any size (no image
// files: they are ours, cost a few hundred bytes and stay sharp at every
// resolution). A plain script so both the classic background worker
// (importScripts) and the page (an ES module import for thumbnails) run it;
// it defines globalThis.podiumPresets = { id: draw(ctx, width, height) }.
// The ids are the server's (`backgrounds` in /api/config, kind "image").

(() => {
  function linear(ctx, x0, y0, x1, y1, stops) {
    const g = ctx.createLinearGradient(x0, y0, x1, y1);
    for (const [at, color] of stops) g.addColorStop(at, color);
    return g;
  }

  function radial(ctx, x, y, r, stops) {
    const g = ctx.createRadialGradient(x, y, 0, x, y, r);
    for (const [at, color] of stops) g.addColorStop(at, color);
    return g;
  }

  // A deterministic sequence, so a preset looks the same on every device.
  function seeded(seed) {
    let s = seed >>> 0;
    return () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 4294967296;
    };
  }

  /** Evening sky over layered hills. */
  function dusk(ctx, w, h) {
    ctx.fillStyle = linear(ctx, 0, 0, 0, h, [
      [0, '#1d2b5a'],
      [0.45, '#6b4a8a'],
      [0.75, '#e7887a'],
      [1, '#f6c38b'],
    ]);
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = radial(ctx, w * 0.72, h * 0.62, h * 0.5, [
      [0, 'rgba(255,224,170,0.95)'],
      [0.18, 'rgba(255,200,140,0.55)'],
      [1, 'rgba(255,200,140,0)'],
    ]);
    ctx.fillRect(0, 0, w, h);
    const hills = ['#5b3f6e', '#45305a', '#2f2444'];
    hills.forEach((color, i) => {
      const base = h * (0.68 + i * 0.1);
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.moveTo(0, h);
      for (let x = 0; x <= w; x += w / 48) {
        const y = base - Math.sin((x / w) * Math.PI * (1.4 + i * 0.7) + i * 1.7) * h * (0.06 - i * 0.012);
        ctx.lineTo(x, y);
      }
      ctx.lineTo(w, h);
      ctx.closePath();
      ctx.fill();
    });
  }

  /** Soft green and violet light bands on a night blue. */
  function aurora(ctx, w, h) {
    ctx.fillStyle = linear(ctx, 0, 0, 0, h, [
      [0, '#071426'],
      [1, '#102a3f'],
    ]);
    ctx.fillRect(0, 0, w, h);
    const rand = seeded(7);
    for (let i = 0; i < 90; i += 1) {
      ctx.fillStyle = `rgba(255,255,255,${0.25 + rand() * 0.5})`;
      ctx.fillRect(rand() * w, rand() * h * 0.6, Math.max(1, w / 640), Math.max(1, w / 640));
    }
    const bands = [
      ['rgba(64,224,160,0.55)', 0.38, 0.9],
      ['rgba(120,110,255,0.40)', 0.5, 1.6],
      ['rgba(80,200,255,0.35)', 0.3, 2.3],
    ];
    ctx.save();
    ctx.globalCompositeOperation = 'lighter';
    for (const [color, level, phase] of bands) {
      for (let k = 0; k < 14; k += 1) {
        ctx.strokeStyle = color.replace(/[\d.]+\)$/, `${0.05})`);
        ctx.lineWidth = h * (0.02 + k * 0.012);
        ctx.beginPath();
        for (let x = -w * 0.1; x <= w * 1.1; x += w / 40) {
          const y = h * level + Math.sin((x / w) * 5 + phase) * h * 0.08 + Math.sin((x / w) * 11 + phase * 2) * h * 0.025;
          if (x <= -w * 0.1) ctx.moveTo(x, y);
          else ctx.lineTo(x, y);
        }
        ctx.stroke();
      }
    }
    ctx.restore();
    ctx.fillStyle = '#06101c';
    ctx.beginPath();
    ctx.moveTo(0, h);
    for (let x = 0; x <= w; x += w / 32) ctx.lineTo(x, h * 0.9 - Math.abs(Math.sin(x * 0.013 + 1)) * h * 0.05);
    ctx.lineTo(w, h);
    ctx.fill();
  }

  /** A warm, softly lit studio wall with a floor line and a lamp glow. */
  function studio(ctx, w, h) {
    ctx.fillStyle = linear(ctx, 0, 0, w, 0, [
      [0, '#6d5a4c'],
      [0.5, '#a08674'],
      [1, '#6a574a'],
    ]);
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = radial(ctx, w * 0.5, h * 0.35, w * 0.55, [
      [0, 'rgba(255,236,210,0.55)'],
      [1, 'rgba(255,236,210,0)'],
    ]);
    ctx.fillRect(0, 0, w, h);
    // Vertical wall panels.
    ctx.strokeStyle = 'rgba(60,45,35,0.25)';
    ctx.lineWidth = Math.max(1, w / 400);
    for (let x = w / 8; x < w; x += w / 8) {
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, h * 0.78);
      ctx.stroke();
    }
    // Floor.
    ctx.fillStyle = linear(ctx, 0, h * 0.78, 0, h, [
      [0, '#4a3b31'],
      [1, '#2e241e'],
    ]);
    ctx.fillRect(0, h * 0.78, w, h * 0.22);
    // A lamp on the right, and a plant shape on the left.
    ctx.fillStyle = radial(ctx, w * 0.86, h * 0.3, h * 0.35, [
      [0, 'rgba(255,220,160,0.9)'],
      [0.15, 'rgba(255,210,150,0.45)'],
      [1, 'rgba(255,210,150,0)'],
    ]);
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = '#2b2420';
    ctx.fillRect(w * 0.855, h * 0.33, w * 0.01, h * 0.45);
    ctx.fillStyle = '#3f5a3a';
    for (let i = 0; i < 7; i += 1) {
      ctx.beginPath();
      ctx.ellipse(w * 0.12, h * 0.6, w * 0.018, h * 0.16, -0.9 + i * 0.3, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.fillStyle = '#5a463a';
    ctx.fillRect(w * 0.095, h * 0.66, w * 0.05, h * 0.12);
  }

  /** Pastel geometric shapes on a light background. */
  function shapes(ctx, w, h) {
    ctx.fillStyle = linear(ctx, 0, 0, w, h, [
      [0, '#eef2fb'],
      [1, '#dfe7f5'],
    ]);
    ctx.fillRect(0, 0, w, h);
    const rand = seeded(42);
    const colors = ['#8fb3ff', '#ffb38f', '#9ee0c3', '#d7a8ff', '#ffd98a'];
    for (let i = 0; i < 14; i += 1) {
      ctx.globalAlpha = 0.55;
      ctx.fillStyle = colors[i % colors.length];
      const x = rand() * w;
      const y = rand() * h;
      const r = (0.05 + rand() * 0.12) * h;
      ctx.beginPath();
      if (i % 3 === 0) ctx.arc(x, y, r, 0, Math.PI * 2);
      else if (i % 3 === 1) ctx.rect(x - r, y - r * 0.6, r * 2, r * 1.2);
      else {
        ctx.moveTo(x, y - r);
        ctx.lineTo(x + r, y + r * 0.8);
        ctx.lineTo(x - r, y + r * 0.8);
        ctx.closePath();
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  globalThis.podiumPresets = { dusk, aurora, studio, shapes };
})();
