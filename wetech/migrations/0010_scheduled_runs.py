"""The schedule's runs: one row per scheduled job and period, the lock that lets one worker run
each job once per period."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('wetech', '0009_staff_roles'),
    ]

    operations = [
        migrations.CreateModel(
            name='ScheduledRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('job', models.CharField(max_length=50)),
                ('period', models.DateTimeField()),
                ('host', models.CharField(help_text='The worker that ran it (host:pid).', max_length=200)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('outcome', models.CharField(choices=[('running', 'Running'), ('ok', 'Done'), ('failed', 'Failed')], default='running', max_length=10)),
                ('summary', models.CharField(blank=True, default='', max_length=500)),
                ('artifact', models.CharField(blank=True, default='', max_length=500)),
            ],
            options={
                'ordering': ['-started_at', '-pk'],
                'indexes': [models.Index(fields=['job', 'outcome', '-finished_at'], name='scheduled_run_newest')],
                'constraints': [models.UniqueConstraint(fields=('job', 'period'), name='scheduled_run_once_per_period')],
            },
        ),
    ]
